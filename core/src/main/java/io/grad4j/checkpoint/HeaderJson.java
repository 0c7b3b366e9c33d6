package io.grad4j.checkpoint;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The small, strict JSON reader and writer a safetensors header needs (RFC 8259; no extensions).
 *
 * <p>Reading yields {@link Map} (insertion-ordered), {@link List}, {@link String},
 * {@link BigDecimal}, {@link Boolean} and {@code null}. Duplicate object keys, trailing commas,
 * comments, leading zeros, raw control characters in strings and trailing content other than
 * whitespace are all rejected with a {@link Malformed} giving the character offset.
 */
final class HeaderJson {
    private HeaderJson() {
    }

    /** The text is not JSON; {@link #offset()} is where the reader stopped. */
    static class Malformed extends Exception {
        private final int offset;

        Malformed(String message, int offset) {
            super(message + " at character " + offset);
            this.offset = offset;
        }

        int offset() {
            return offset;
        }
    }

    // ---------------------------------------------------------------- writing

    /** Appends {@code s} as a JSON string literal, escaping quotes, backslashes and control characters. */
    static void writeString(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    // ---------------------------------------------------------------- reading

    /** The top-level object has more members than the caller allows; {@link #offset()} is where the next began. */
    static final class TooManyMembers extends Malformed {
        TooManyMembers(int limit, int offset) {
            super("more than " + limit + " entries", offset);
        }
    }

    /** Parses one JSON value that fills {@code text} up to trailing whitespace (spaces are safetensors' padding). */
    static Object parse(String text) throws Malformed {
        return parse(text, Integer.MAX_VALUE);
    }

    /**
     * As {@link #parse(String)}, stopping with {@link TooManyMembers} as soon as the top-level
     * object reaches more than {@code maxTopLevelMembers} entries: a header of a million tiny
     * entries is refused before it has cost a million maps.
     */
    static Object parse(String text, int maxTopLevelMembers) throws Malformed {
        Reader r = new Reader(text, maxTopLevelMembers);
        r.skipWhitespace();
        Object value = r.value(0);
        r.skipWhitespace();
        if (r.pos != text.length()) {
            throw new Malformed("unexpected content after the JSON value", r.pos);
        }
        return value;
    }

    static final class Reader {
        private static final int MAX_DEPTH = 64;
        /** Far more than any integer below 2^63 needs (19 digits), with room for a sign, fraction and exponent. */
        private static final int MAX_NUMBER_CHARS = 100;
        /**
         * Values in one array. A safetensors header's arrays are a shape (a handful of sizes) and
         * two data offsets; without a bound, one shape of 50 million zeros fits in a legal
         * 100 MB header and costs gigabytes of parsed numbers.
         */
        static final int MAX_ARRAY_VALUES = 1024;
        /** Members of one nested object (the __metadata__ map, a tensor's entry), for the same reason. */
        static final int MAX_NESTED_MEMBERS = 100_000;
        private final String s;
        private final int maxTopLevelMembers;
        private int pos;

        Reader(String s, int maxTopLevelMembers) {
            this.s = s;
            this.maxTopLevelMembers = maxTopLevelMembers;
        }

        void skipWhitespace() {
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                    pos++;
                } else {
                    return;
                }
            }
        }

        Object value(int depth) throws Malformed {
            if (depth > MAX_DEPTH) {
                throw new Malformed("nesting deeper than " + MAX_DEPTH, pos);
            }
            if (pos >= s.length()) {
                throw new Malformed("unexpected end of JSON", pos);
            }
            char c = s.charAt(pos);
            return switch (c) {
                case '{' -> object(depth);
                case '[' -> array(depth);
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                default -> {
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        yield number();
                    }
                    throw new Malformed("unexpected character '" + printable(c) + "'", pos);
                }
            };
        }

        private Map<String, Object> object(int depth) throws Malformed {
            pos++; // {
            Map<String, Object> map = new LinkedHashMap<>();
            skipWhitespace();
            if (peek() == '}') {
                pos++;
                return map;
            }
            while (true) {
                skipWhitespace();
                if (peek() != '"') {
                    throw new Malformed("expected a string key", pos);
                }
                int keyAt = pos;
                if (depth == 0 && map.size() >= maxTopLevelMembers) {
                    throw new TooManyMembers(maxTopLevelMembers, keyAt);
                }
                if (depth > 0 && map.size() >= MAX_NESTED_MEMBERS) {
                    throw new Malformed("a nested object of more than " + MAX_NESTED_MEMBERS + " entries", keyAt);
                }
                String key = string();
                skipWhitespace();
                expect(':');
                skipWhitespace();
                Object v = value(depth + 1);
                if (map.containsKey(key)) {
                    throw new Malformed("duplicate key \"" + key + "\"", keyAt);
                }
                map.put(key, v);
                skipWhitespace();
                char c = peek();
                pos++;
                if (c == '}') {
                    return map;
                }
                if (c != ',') {
                    throw new Malformed("expected ',' or '}' in an object", pos - 1);
                }
            }
        }

        private List<Object> array(int depth) throws Malformed {
            pos++; // [
            List<Object> list = new ArrayList<>();
            skipWhitespace();
            if (peek() == ']') {
                pos++;
                return list;
            }
            while (true) {
                skipWhitespace();
                if (list.size() >= MAX_ARRAY_VALUES) {
                    throw new Malformed("an array of more than " + MAX_ARRAY_VALUES + " values", pos);
                }
                list.add(value(depth + 1));
                skipWhitespace();
                char c = peek();
                pos++;
                if (c == ']') {
                    return list;
                }
                if (c != ',') {
                    throw new Malformed("expected ',' or ']' in an array", pos - 1);
                }
            }
        }

        private String string() throws Malformed {
            pos++; // opening quote
            StringBuilder b = new StringBuilder();
            while (true) {
                if (pos >= s.length()) {
                    throw new Malformed("unterminated string", pos);
                }
                char c = s.charAt(pos++);
                if (c == '"') {
                    return b.toString();
                }
                if (c < 0x20) {
                    throw new Malformed("raw control character U+" + String.format("%04X", (int) c) + " in a string",
                            pos - 1);
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                if (pos >= s.length()) {
                    throw new Malformed("unterminated escape", pos);
                }
                char e = s.charAt(pos++);
                switch (e) {
                    case '"' -> b.append('"');
                    case '\\' -> b.append('\\');
                    case '/' -> b.append('/');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (pos + 4 > s.length()) {
                            throw new Malformed("truncated \\u escape", pos);
                        }
                        int code = 0;
                        for (int i = 0; i < 4; i++) {
                            int d = Character.digit(s.charAt(pos + i), 16);
                            if (d < 0) {
                                throw new Malformed("bad hex digit in \\u escape", pos + i);
                            }
                            code = code * 16 + d;
                        }
                        pos += 4;
                        b.append((char) code);
                    }
                    default -> throw new Malformed("invalid escape '\\" + printable(e) + "'", pos - 2);
                }
            }
        }

        private BigDecimal number() throws Malformed {
            int start = pos;
            if (peek() == '-') {
                pos++;
            }
            if (peek() == '0') {
                pos++;
            } else if (isDigit(peek())) {
                while (isDigit(peek())) {
                    pos++;
                }
            } else {
                throw new Malformed("expected a digit", pos);
            }
            if (peek() == '.') {
                pos++;
                if (!isDigit(peek())) {
                    throw new Malformed("expected a digit after '.'", pos);
                }
                while (isDigit(peek())) {
                    pos++;
                }
            }
            if (peek() == 'e' || peek() == 'E') {
                pos++;
                if (peek() == '+' || peek() == '-') {
                    pos++;
                }
                if (!isDigit(peek())) {
                    throw new Malformed("expected a digit in the exponent", pos);
                }
                while (isDigit(peek())) {
                    pos++;
                }
            }
            if (isDigit(peek())) {
                throw new Malformed("leading zero in a number", start);
            }
            if (pos - start > MAX_NUMBER_CHARS) {
                // BigDecimal parses long digit strings in quadratic time: 1M digits took 17 s, so a
                // header of one 99M-digit number would hang the reader for hours
                throw new Malformed("a number of " + (pos - start) + " characters (at most " + MAX_NUMBER_CHARS
                        + ": safetensors numbers are sizes and offsets below 2^63)", start);
            }
            try {
                return new BigDecimal(s.substring(start, pos));
            } catch (NumberFormatException | ArithmeticException ex) {
                throw new Malformed("number out of range", start);
            }
        }

        private Object literal(String word, Object value) throws Malformed {
            if (!s.startsWith(word, pos)) {
                throw new Malformed("invalid literal (expected " + word + ")", pos);
            }
            pos += word.length();
            return value;
        }

        private void expect(char c) throws Malformed {
            if (peek() != c) {
                throw new Malformed("expected '" + c + "'", pos);
            }
            pos++;
        }

        /** The next character, or U+0000 (never valid where a token is expected) at the end. */
        private char peek() {
            return pos < s.length() ? s.charAt(pos) : '\0';
        }

        private static boolean isDigit(char c) {
            return c >= '0' && c <= '9';
        }

        private static String printable(char c) {
            return c < 0x20 || c > 0x7e ? String.format("U+%04X", (int) c) : String.valueOf(c);
        }
    }
}
