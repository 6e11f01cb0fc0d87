import java.math.BigDecimal;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * One pgjdbc session against procgate, as a BI tool drives it: DatabaseMetaData, server-prepared
 * EXECUTE PROCEDURE, the {call} escape, Statement.cancel() of a CALL, errors and plain PostgreSQL.
 *
 * <p>Usage: {@code java -cp postgresql.jar JdbcSession.java <jdbc-url> <user> <password>}. Prints one
 * JSON object of what it observed to stdout; an unexpected exception exits non-zero with its stack
 * trace on stderr. test/clients/jdbc.test.ts asserts on the JSON.
 */
public class JdbcSession {
  private static final Set<String> ENDED = Set.of("succeeded", "failed", "killed");

  private static String url;
  private static String user;
  private static String password;

  public static void main(String[] args) throws Exception {
    if (args.length != 3 && args.length != 4) {
      System.err.println("usage: JdbcSession <jdbc-url> <user> <password> [<jdbc-url-of-postgresql-itself>]");
      System.exit(2);
    }
    url = args[0];
    user = args[1];
    password = args[2];
    Map<String, Object> out = new LinkedHashMap<>();
    try (Connection conn = connect(Map.of())) {
      setUp(conn);
      out.put("metadata", metadata(conn));
    }
    out.put("prepared", preparedExecute());
    out.put("callEscape", callEscape());
    out.put("cancel", cancelCall());
    out.put("errors", errors());
    out.put("plain", plainPostgres(url, "jdbc_plain"));
    // The same through no procgate at all, when given PostgreSQL's own URL, for comparison.
    if (args.length == 4) out.put("plainDirect", plainPostgres(args[3], "jdbc_plain_direct"));
    System.out.println(json(out));
  }

  private static Connection connect(Map<String, String> extra) throws SQLException {
    return connect(url, extra);
  }

  private static Connection connect(String jdbcUrl, Map<String, String> extra) throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", user);
    props.setProperty("password", password);
    props.setProperty("ApplicationName", "procgate-jdbc-test");
    props.putAll(extra);
    return DriverManager.getConnection(jdbcUrl, props);
  }

  /** The procedures and the table the session uses (CREATE OR REPLACE: the program may run again). */
  private static void setUp(Connection conn) throws SQLException {
    try (Statement st = conn.createStatement()) {
      st.execute("CREATE OR REPLACE PROCEDURE jdbc_hello(n int) LANGUAGE javascript"
          + " FILES ('main.js' = 'export default (ctx) => { ctx.result(\"n\", ctx.params.n); }')");
      st.execute("CREATE OR REPLACE PROCEDURE jdbc_square(n int) LANGUAGE javascript"
          + " RETURNS TABLE (n int, square int)"
          + " FILES ('main.js' = $js$\n"
          + "export default async (ctx) => {\n"
          + "  const n = ctx.params.n;\n"
          + "  await ctx.outputs[0].write({ n, square: n * n });\n"
          + "};\n"
          + "$js$)");
      st.execute("CREATE OR REPLACE PROCEDURE jdbc_sleepy LANGUAGE command COMMAND 'sleep' ARGS ('30')");
      st.execute("CREATE OR REPLACE PROCEDURE jdbc_fail() LANGUAGE javascript"
          + " FILES ('main.js' = 'export default () => { throw new Error(\"jdbc boom\"); }')");
    }
  }

  // ---------------------------------------------------------------- DatabaseMetaData

  private static Map<String, Object> metadata(Connection conn) throws SQLException {
    DatabaseMetaData md = conn.getMetaData();
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("driverVersion", md.getDriverVersion());
    result.put("databaseProductName", md.getDatabaseProductName());

    List<Object> views = new ArrayList<>();
    try (ResultSet rs = md.getTables(null, "procgate", "%", new String[] {"VIEW"})) {
      while (rs.next()) {
        views.add(Map.of("schema", rs.getString("TABLE_SCHEM"), "name", rs.getString("TABLE_NAME"),
            "type", rs.getString("TABLE_TYPE")));
      }
    }
    result.put("views", views);

    Map<String, Object> columns = new LinkedHashMap<>();
    try (ResultSet rs = md.getColumns(null, "procgate", "runs", "%")) {
      while (rs.next()) {
        Map<String, Object> column = new LinkedHashMap<>();
        column.put("typeName", rs.getString("TYPE_NAME"));
        column.put("dataType", rs.getInt("DATA_TYPE"));
        column.put("position", rs.getInt("ORDINAL_POSITION"));
        columns.put(rs.getString("COLUMN_NAME"), column);
      }
    }
    result.put("runsColumns", columns);

    List<Object> procedures = new ArrayList<>();
    try (ResultSet rs = md.getProcedures(null, "procgate", "%")) {
      while (rs.next()) {
        procedures.add(Map.of("schema", rs.getString("PROCEDURE_SCHEM"), "name", rs.getString("PROCEDURE_NAME"),
            "type", rs.getInt("PROCEDURE_TYPE")));
      }
    }
    result.put("procedures", procedures);

    List<Object> functions = new ArrayList<>();
    try (ResultSet rs = md.getFunctions(null, "procgate", "%")) {
      while (rs.next()) functions.add(rs.getString("FUNCTION_NAME"));
    }
    result.put("functions", functions);

    // User procedures are procgate's, not PostgreSQL functions: nothing in pg_proc for them.
    List<Object> userProcedures = new ArrayList<>();
    try (ResultSet rs = md.getProcedures(null, null, "jdbc_%")) {
      while (rs.next()) userProcedures.add(rs.getString("PROCEDURE_NAME"));
    }
    result.put("userProceduresInMetadata", userProcedures);
    List<Object> listed = new ArrayList<>();
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery(
            "SELECT name, language FROM procgate.procedures WHERE name LIKE 'jdbc\\_%' ORDER BY name")) {
      while (rs.next()) listed.add(Map.of("name", rs.getString(1), "language", rs.getString(2)));
    }
    result.put("proceduresView", listed);
    return result;
  }

  // ---------------------------------------------------------------- server-prepared EXECUTE PROCEDURE

  private static Map<String, Object> preparedExecute() throws Exception {
    Map<String, Object> result = new LinkedHashMap<>();
    try (Connection conn = connect(Map.of("prepareThreshold", "1"))) {
      try (Statement st = conn.createStatement()) {
        st.execute("DROP TABLE IF EXISTS jdbc_out");
      }
      List<Object> submitted = new ArrayList<>();
      List<UUID> runIds = new ArrayList<>();
      try (PreparedStatement ps =
          conn.prepareStatement(
          "EXECUTE PROCEDURE jdbc_square(n => ?) INTO jdbc_out WITH (run_tag = 'jdbc-prepared', segments = 1)")) {
        for (int n : new int[] {2, 3, 4}) {
          ps.setInt(1, n);
          try (ResultSet rs = ps.executeQuery()) {
            Map<String, Object> row = nextRow(rs);
            row.put("rows", 1 + countRest(rs));
            row.put("serverPrepared", ps.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare());
            submitted.add(row);
            runIds.add(UUID.fromString((String) row.get("run_id")));
          }
        }
      }
      result.put("submitted", submitted);
      // The server-side statement pgjdbc prepared: what procgate rewrote the text into.
      List<Object> prepared = new ArrayList<>();
      try (Statement st = conn.createStatement();
          ResultSet rs = st.executeQuery("SELECT name, statement FROM pg_prepared_statements"
              + " WHERE starts_with(statement, 'SELECT * FROM procgate.execute(') ORDER BY name")) {
        while (rs.next()) prepared.add(Map.of("name", rs.getString(1), "statement", rs.getString(2)));
      }
      result.put("preparedStatements", prepared);
      List<Object> ended = new ArrayList<>();
      for (UUID runId : runIds) ended.add(waitForRun(conn, runId, ENDED, 30_000));
      result.put("ended", ended);
      List<Object> rows = new ArrayList<>();
      try (Statement st = conn.createStatement();
          ResultSet rs = st.executeQuery("SELECT n, square FROM jdbc_out ORDER BY n")) {
        while (rs.next()) rows.add(List.of(rs.getInt(1), rs.getInt(2)));
      }
      result.put("into", rows);
    }
    return result;
  }

  // ---------------------------------------------------------------- {call} escape

  private static Map<String, Object> callEscape() throws Exception {
    Map<String, Object> result = new LinkedHashMap<>();
    try (Connection conn = connect(Map.of("escapeSyntaxCallMode", "callIfNoReturn"))) {
      try (CallableStatement cs = conn.prepareCall("{call jdbc_hello(?)}")) {
        cs.setInt(1, 7);
        boolean hasResultSet = cs.execute();
        result.put("executeReturned", hasResultSet);
        if (hasResultSet) {
          try (ResultSet rs = cs.getResultSet()) {
            ResultSetMetaData meta = rs.getMetaData();
            List<Object> columns = new ArrayList<>();
            for (int i = 1; i <= meta.getColumnCount(); i++) columns.add(meta.getColumnName(i));
            result.put("columns", columns);
            Map<String, Object> row = nextRow(rs);
            row.put("rows", 1 + countRest(rs));
            result.put("run", row);
          }
        }
        result.put("updateCount", cs.getUpdateCount());
        result.put("warnings", warnings(cs.getWarnings()));
      }
    }
    // pgjdbc's default escapeSyntaxCallMode=select makes {call p(?)} a `select * from p(?)`: no function of that name.
    try (Connection conn = connect(Map.of()); CallableStatement cs = conn.prepareCall("{call jdbc_hello(?)}")) {
      cs.setInt(1, 8);
      cs.execute();
      result.put("selectModeError", null);
    } catch (SQLException e) {
      result.put("selectModeError", error(e));
    }
    return result;
  }

  // ---------------------------------------------------------------- Statement.cancel() of a CALL

  private static Map<String, Object> cancelCall() throws Exception {
    Map<String, Object> result = new LinkedHashMap<>();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try (Connection caller = connect(Map.of()); Connection watcher = connect(Map.of())) {
      try (Statement killOld = watcher.createStatement()) {
        killOld.execute("KILL RUNS OF PROCEDURE jdbc_sleepy"); // leftovers of an earlier session
      }
      Statement st = caller.createStatement();
      long started = System.nanoTime();
      Future<Object> call = pool.submit(() -> {
        try {
          st.execute("CALL jdbc_sleepy() WITH (run_tag = 'jdbc-cancel')");
          return "returned normally";
        } catch (SQLException e) {
          return e;
        }
      });
      UUID runId = null;
      long deadline = System.currentTimeMillis() + 20_000;
      try (PreparedStatement ps = watcher.prepareStatement(
          "SELECT run_id, state FROM procgate.runs WHERE run_tag = 'jdbc-cancel' AND procedure = 'jdbc_sleepy'"
          + " ORDER BY created_at DESC LIMIT 1")) {
        while (System.currentTimeMillis() < deadline && !call.isDone()) {
          try (ResultSet rs = ps.executeQuery()) {
            if (rs.next() && "running".equals(rs.getString(2))) {
              runId = rs.getObject(1, UUID.class);
              break;
            }
          }
          Thread.sleep(50);
        }
      }
      result.put("sawRunning", runId != null);
      st.cancel();
      Object outcome = call.get(20, TimeUnit.SECONDS);
      result.put("callSeconds", (System.nanoTime() - started) / 1e9);
      if (outcome instanceof SQLException e) {
        result.put("error", error(e));
      } else {
        result.put("error", null);
        result.put("outcome", String.valueOf(outcome));
      }
      if (runId != null) {
        List<Object> states = new ArrayList<>();
        Map<String, Object> ended = waitForRun(watcher, runId, ENDED, 10_000, states);
        result.put("statesAfterCancel", states);
        result.put("ended", ended);
        // Observed and reported above; a run the cancel did not kill is not left sleeping for the other tests.
        if (!ENDED.contains((String) ended.get("state"))) {
          try (Statement kill = watcher.createStatement()) {
            kill.execute("KILL RUN '" + runId + "'");
          }
        }
      }
      // The caller's connection goes on after the cancel.
      try (Statement again = caller.createStatement(); ResultSet rs = again.executeQuery("SELECT 41 + 1")) {
        rs.next();
        result.put("afterwards", rs.getInt(1));
      }
      st.close();
    } finally {
      pool.shutdownNow();
    }
    return result;
  }

  // ---------------------------------------------------------------- errors

  private static Map<String, Object> errors() throws Exception {
    Map<String, Object> result = new LinkedHashMap<>();
    try (Connection conn = connect(Map.of("prepareThreshold", "1"))) {
      try (Statement st = conn.createStatement()) {
        try {
          st.execute("CALL jdbc_fail()");
          result.put("failingCall", null);
        } catch (SQLException e) {
          result.put("failingCall", error(e));
        }
        try (ResultSet rs = st.executeQuery("SELECT 'still here'")) {
          rs.next();
          result.put("afterFailingCall", rs.getString(1));
        }
      }

      conn.setAutoCommit(false);
      List<Object> inTransaction = new ArrayList<>();
      try (PreparedStatement ps = conn.prepareStatement("CALL jdbc_hello(n => ?)")) {
        for (int attempt = 0; attempt < 2; attempt++) {
          Map<String, Object> entry = new LinkedHashMap<>();
          try (Statement st = conn.createStatement()) {
            st.execute("CREATE TEMP TABLE IF NOT EXISTS jdbc_tx_marker (x int)");
            st.execute("INSERT INTO jdbc_tx_marker VALUES (1)");
          }
          ps.setInt(1, attempt);
          try {
            ps.execute();
            entry.put("error", null);
          } catch (SQLException e) {
            entry.put("error", error(e));
          }
          entry.put("serverPrepared", ps.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare());
          conn.rollback();
          try (Statement st = conn.createStatement();
              ResultSet rs = st.executeQuery(
                  "SELECT count(*) FROM pg_class WHERE relname = 'jdbc_tx_marker' AND relpersistence = 't'")) {
            rs.next();
            entry.put("markerTablesAfterRollback", rs.getInt(1));
          }
          conn.commit();
          inTransaction.add(entry);
        }
      }
      conn.setAutoCommit(true);
      result.put("callInTransaction", inTransaction);
      try (Statement st = conn.createStatement();
          ResultSet rs = st.executeQuery("SELECT count(*) FROM procgate.runs WHERE procedure = 'jdbc_hello'"
              + " AND (params -> 'n' ->> 'value')::int IN (0, 1)")) {
        rs.next();
        result.put("runsFromTransaction", rs.getInt(1));
      }
    }
    return result;
  }

  // ---------------------------------------------------------------- plain PostgreSQL

  private static Map<String, Object> plainPostgres(String jdbcUrl, String table) throws Exception {
    Map<String, Object> result = new LinkedHashMap<>();
    try (Connection conn = connect(jdbcUrl, Map.of("reWriteBatchedInserts", "true"))) {
      try (PreparedStatement ps = conn.prepareStatement(
          "SELECT ?::timestamptz AS ts, ?::numeric AS num, now() - ?::timestamptz > interval '1 day' AS old")) {
        OffsetDateTime when = OffsetDateTime.parse("2024-05-06T07:08:09.123456Z");
        ps.setObject(1, when);
        ps.setBigDecimal(2, new BigDecimal("12345.6789"));
        ps.setObject(3, when);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          Object ts = rs.getObject("ts");
          Object num = rs.getObject("num");
          result.put("tsClass", ts.getClass().getName());
          result.put("tsInstant", ((java.sql.Timestamp) ts).toInstant().toString());
          result.put("tsOffsetDateTime", rs.getObject("ts", OffsetDateTime.class).toString());
          result.put("numClass", num.getClass().getName());
          result.put("num", num.toString());
          result.put("old", rs.getBoolean("old"));
          ResultSetMetaData meta = rs.getMetaData();
          result.put("types", List.of(meta.getColumnTypeName(1), meta.getColumnTypeName(2), meta.getColumnTypeName(3)));
        }
      }
      try (Statement st = conn.createStatement()) {
        st.execute("DROP TABLE IF EXISTS " + table);
        st.execute("CREATE TABLE " + table + " (id int PRIMARY KEY, name text, amount numeric(10, 2))");
      }
      String insert = "INSERT INTO " + table + " (id, name, amount) VALUES (?, ?, ?)";
      try (PreparedStatement ps = conn.prepareStatement(insert)) {
        for (int i = 1; i <= 5; i++) {
          ps.setInt(1, i);
          ps.setString(2, "row " + i);
          ps.setBigDecimal(3, new BigDecimal(i + ".25"));
          ps.addBatch();
        }
        int[] counts = ps.executeBatch();
        List<Object> list = new ArrayList<>();
        for (int c : counts) list.add(c);
        result.put("batchCounts", list);
      }
      try (Statement st = conn.createStatement();
          ResultSet rs = st.executeQuery(
              "SELECT count(*), sum(amount), string_agg(name, ',' ORDER BY id) FROM " + table)) {
        rs.next();
        result.put("batchRows", rs.getInt(1));
        result.put("batchSum", rs.getBigDecimal(2).toString());
        result.put("batchNames", rs.getString(3));
      }
      // A plain PostgreSQL error keeps its SQLSTATE and position.
      try (Statement st = conn.createStatement()) {
        st.executeQuery("SELECT * FROM jdbc_no_such_table");
        result.put("missingTable", null);
      } catch (SQLException e) {
        result.put("missingTable", error(e));
      }
    }
    return result;
  }

  // ---------------------------------------------------------------- helpers

  private static Map<String, Object> waitForRun(Connection conn, UUID runId, Set<String> until, long timeoutMs)
      throws Exception {
    return waitForRun(conn, runId, until, timeoutMs, new ArrayList<>());
  }

  /** Polls procgate.runs with a PreparedStatement until the run's state is one of `until`. */
  private static Map<String, Object> waitForRun(Connection conn, UUID runId, Set<String> until, long timeoutMs,
      List<Object> statesSeen) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMs;
    try (PreparedStatement ps = conn.prepareStatement(
        "SELECT run_id, state, error, rows_out, results::text AS results FROM procgate.runs WHERE run_id = ?")) {
      ps.setObject(1, runId);
      for (;;) {
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) throw new IllegalStateException("run " + runId + " not in procgate.runs");
          Map<String, Object> row = rowOf(rs);
          String state = (String) row.get("state");
          if (statesSeen.isEmpty() || !statesSeen.get(statesSeen.size() - 1).equals(state)) statesSeen.add(state);
          if (until.contains(state) || System.currentTimeMillis() > deadline) return row;
        }
        Thread.sleep(50);
      }
    }
  }

  /** The next row, which must be there. */
  private static Map<String, Object> nextRow(ResultSet rs) throws SQLException {
    if (!rs.next()) throw new IllegalStateException("no row");
    return rowOf(rs);
  }

  /** The current row as column name to value: strings, numbers and booleans as such, anything else as text. */
  private static Map<String, Object> rowOf(ResultSet rs) throws SQLException {
    ResultSetMetaData meta = rs.getMetaData();
    Map<String, Object> row = new LinkedHashMap<>();
    for (int i = 1; i <= meta.getColumnCount(); i++) {
      Object value = rs.getObject(i);
      if (value != null && !(value instanceof String || value instanceof Integer || value instanceof Long
          || value instanceof Boolean)) {
        row.put(meta.getColumnName(i) + "$class", value.getClass().getName());
        value = value.toString();
      }
      row.put(meta.getColumnName(i), value);
    }
    return row;
  }

  private static int countRest(ResultSet rs) throws SQLException {
    int n = 0;
    while (rs.next()) n++;
    return n;
  }

  private static Map<String, Object> error(SQLException e) {
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("sqlState", e.getSQLState());
    result.put("message", e.getMessage());
    if (e instanceof PSQLException pe && pe.getServerErrorMessage() != null) {
      ServerErrorMessage server = pe.getServerErrorMessage();
      result.put("serverMessage", server.getMessage());
      result.put("where", server.getWhere());
      result.put("position", server.getPosition());
    }
    return result;
  }

  private static List<Object> warnings(SQLWarning warning) {
    List<Object> list = new ArrayList<>();
    for (SQLWarning w = warning; w != null; w = w.getNextWarning()) list.add(w.getMessage());
    return list;
  }

  // ---------------------------------------------------------------- JSON (no library)

  private static String json(Object value) {
    StringBuilder sb = new StringBuilder();
    writeJson(sb, value);
    return sb.toString();
  }

  private static void writeJson(StringBuilder sb, Object value) {
    if (value == null) {
      sb.append("null");
    } else if (value instanceof String s) {
      sb.append('"');
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        switch (c) {
          case '"' -> sb.append("\\\"");
          case '\\' -> sb.append("\\\\");
          case '\n' -> sb.append("\\n");
          case '\r' -> sb.append("\\r");
          case '\t' -> sb.append("\\t");
          default -> {
            if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
            else sb.append(c);
          }
        }
      }
      sb.append('"');
    } else if (value instanceof Boolean || value instanceof Integer || value instanceof Long) {
      sb.append(value);
    } else if (value instanceof Double d) {
      sb.append(Double.isFinite(d) ? d.toString() : "null");
    } else if (value instanceof Map<?, ?> map) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> entry : map.entrySet()) {
        if (!first) sb.append(',');
        first = false;
        writeJson(sb, String.valueOf(entry.getKey()));
        sb.append(':');
        writeJson(sb, entry.getValue());
      }
      sb.append('}');
    } else if (value instanceof List<?> list) {
      sb.append('[');
      for (int i = 0; i < list.size(); i++) {
        if (i > 0) sb.append(',');
        writeJson(sb, list.get(i));
      }
      sb.append(']');
    } else if (value instanceof Object[] array) {
      writeJson(sb, Arrays.asList(array));
    } else {
      writeJson(sb, value.toString());
    }
  }
}
