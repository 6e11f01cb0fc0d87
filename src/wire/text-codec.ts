import iconv from 'iconv-lite';

/**
 * Text in the client's encoding (`client_encoding`): PostgreSQL reads a
 * Query's or Parse's text in it and writes its messages in it.
 * @see https://www.postgresql.org/docs/current/multibyte.html#MULTIBYTE-CHARSET-SUPPORTED
 */
export interface TextCodec {
  /** PostgreSQL's name of the encoding, as ParameterStatus reports it. */
  readonly name: string;
  decode(bytes: Buffer): string;
  encode(text: string): Buffer;
}

/** PostgreSQL's client encodings iconv-lite knows, by PostgreSQL's name (as ParameterStatus spells it). */
const ICONV_NAMES: Readonly<Record<string, string>> = {
  LATIN1: 'iso-8859-1',
  LATIN2: 'iso-8859-2',
  LATIN3: 'iso-8859-3',
  LATIN4: 'iso-8859-4',
  LATIN5: 'iso-8859-9',
  LATIN6: 'iso-8859-10',
  LATIN7: 'iso-8859-13',
  LATIN8: 'iso-8859-14',
  LATIN9: 'iso-8859-15',
  LATIN10: 'iso-8859-16',
  ISO_8859_5: 'iso-8859-5',
  ISO_8859_6: 'iso-8859-6',
  ISO_8859_7: 'iso-8859-7',
  ISO_8859_8: 'iso-8859-8',
  WIN866: 'cp866',
  WIN874: 'windows-874',
  WIN1250: 'windows-1250',
  WIN1251: 'windows-1251',
  WIN1252: 'windows-1252',
  WIN1253: 'windows-1253',
  WIN1254: 'windows-1254',
  WIN1255: 'windows-1255',
  WIN1256: 'windows-1256',
  WIN1257: 'windows-1257',
  WIN1258: 'windows-1258',
  KOI8R: 'koi8-r',
  KOI8U: 'koi8-u',
  EUC_JP: 'euc-jp',
  EUC_CN: 'gb2312',
  EUC_KR: 'euc-kr',
  SJIS: 'shift_jis',
  BIG5: 'big5',
  GBK: 'gbk',
  UHC: 'cp949',
  GB18030: 'gb18030',
};

/**
 * Encodings iconv-lite lacks whose multibyte characters are all bytes of
 * 0x80 and up, so that ASCII (every character our statements are made of)
 * is itself: their text is read byte for byte (as latin1), which gives
 * every byte back unchanged when written again.
 */
const ASCII_SAFE_ONLY: ReadonlySet<string> = new Set(['SQL_ASCII', 'EUC_TW', 'EUC_JIS_2004', 'MULE_INTERNAL']);

export const UTF8_CODEC: TextCodec = {
  name: 'UTF8',
  decode: (bytes) => bytes.toString('utf8'),
  encode: (text) => Buffer.from(text, 'utf8'),
};

/**
 * The codec of PostgreSQL's client encoding `name`; undefined for one
 * neither iconv-lite nor a byte-for-byte reading can handle (JOHAB,
 * SHIFT_JIS_2004), whose text must then be left as it is.
 */
export function codecFor(name: string): TextCodec | undefined {
  const upper = name.toUpperCase();
  if (upper === 'UTF8' || upper === 'UNICODE') return UTF8_CODEC;
  if (ASCII_SAFE_ONLY.has(upper)) {
    return { name: upper, decode: (bytes) => bytes.toString('latin1'), encode: (text) => Buffer.from(text, 'latin1') };
  }
  const iconvName = ICONV_NAMES[upper];
  if (iconvName === undefined) return undefined;
  return {
    name: upper,
    decode: (bytes) => iconv.decode(bytes, iconvName),
    encode: (text) => iconv.encode(text, iconvName),
  };
}
