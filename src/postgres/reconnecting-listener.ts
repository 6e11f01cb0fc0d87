import pg from 'pg';
import type { Logger } from '../log/logger.js';

export interface ReconnectingListenerOptions {
  /** Connection settings, with the application_name the connection shows in pg_stat_activity. */
  readonly config: pg.ClientConfig;
  readonly channel: string;
  readonly logger: Logger;
  /**
   * Runs on every connection, right after LISTEN and before it is in use:
   * what was read here cannot miss a notification. Failing, it fails the
   * connection.
   */
  readonly onConnect?: (client: pg.Client) => Promise<void>;
  /** A notification on the channel. */
  readonly onNotification: (payload: string | undefined) => void;
  /** A lost connection was opened again: notifications may have been missed meanwhile. */
  readonly onReconnect?: () => void;
}

/** Between attempts to open a lost connection again. */
const RETRY_MS = 1000;

/**
 * A connection that LISTENs on one channel and, when it is lost, is opened
 * again every second until that works. The engine listens for runs on it
 * and the procedure cache for catalog changes.
 *
 * @example
 * const listener = await ReconnectingListener.open({ config, channel: 'procgate_runs', logger, onNotification });
 * // ...
 * await listener.close();
 */
export class ReconnectingListener {
  private current: pg.Client | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: ReconnectingListenerOptions) {}

  /** Connects and listens; rejects when the first connection fails. */
  static async open(options: ReconnectingListenerOptions): Promise<ReconnectingListener> {
    const listener = new ReconnectingListener(options);
    listener.current = await listener.connect();
    return listener;
  }

  /** The connection, while there is one: for queries that must see what LISTEN saw. */
  get client(): pg.Client | undefined {
    return this.current;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.current?.end().catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client(this.options.config);
    let lost = false;
    const onLost = (error?: Error): void => {
      if (lost || this.closed) return;
      lost = true;
      this.options.logger.warn({ err: error, channel: this.options.channel }, 'listener connection lost; reconnecting');
      if (this.current === client) this.current = undefined;
      void client.end().catch(() => undefined);
      this.retryLater();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (message) => {
      if (message.channel === this.options.channel) this.options.onNotification(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.options.channel}`);
      await this.options.onConnect?.(client);
    } catch (error) {
      lost = true;
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  private retryLater(): void {
    this.retryTimer = setTimeout(() => {
      if (this.closed) return;
      this.connect().then(
        (client) => {
          if (this.closed) {
            void client.end().catch(() => undefined);
            return;
          }
          this.current = client;
          this.options.logger.info({ channel: this.options.channel }, 'listener reconnected');
          this.options.onReconnect?.();
        },
        () => this.retryLater(),
      );
    }, RETRY_MS);
    this.retryTimer.unref();
  }
}
