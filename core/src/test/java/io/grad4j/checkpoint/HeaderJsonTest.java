package io.grad4j.checkpoint;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The header JSON reader accepts exactly RFC 8259 and the writer escapes what it must. */
class HeaderJsonTest {

    @Test
    void parsesNestedValuesInOrder() throws Exception {
        Object v = HeaderJson.parse(" {\"b\": [1, -2.5e1, true, false, null], \"a\": {\"x\": \"y\\n\\u00e9\"}}   ");
        Map<?, ?> m = (Map<?, ?>) v;
        assertEquals(List.of("b", "a"), List.copyOf(m.keySet()));
        List<?> b = (List<?>) m.get("b");
        assertEquals(0, new BigDecimal(1).compareTo((BigDecimal) b.get(0)));
        assertEquals(0, new BigDecimal("-25").compareTo((BigDecimal) b.get(1)));
        assertEquals(true, b.get(2));
        assertEquals(false, b.get(3));
        assertEquals(null, b.get(4));
        assertEquals("y\n\u00e9", ((Map<?, ?>) m.get("a")).get("x"));
    }

    /**
     * Issue 23 (found looking further): BigDecimal parses a long digit string in quadratic time
     * (1M digits: 17 s), so one huge number in a header hung the reader. Numbers longer than 100
     * characters are refused before they are parsed; the longest valid offset has 19 digits.
     */
    @Test
    void refusesNumbersTooLongToBeASizeBeforeParsingThem() throws Exception {
        String huge = "1".repeat(200_000);
        HeaderJson.Malformed e = assertThrows(HeaderJson.Malformed.class, () -> HeaderJson.parse("{\"shape\": [" + huge + "]}"));
        assertTrue(e.getMessage().contains("a number of 200000 characters (at most 100"), e.getMessage());
        assertEquals(new java.math.BigDecimal("9223372036854775807"),
                ((java.util.List<?>) ((java.util.Map<?, ?>) HeaderJson.parse("{\"o\": [9223372036854775807]}")).get("o")).get(0));
    }

    @Test
    void rejectsMalformedJson() {
        String[] bad = {
            "", "{", "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "[1 2]", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}",
            "{\"a\":1e}", "{\"a\":tru}", "{\"a\":\"x}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12g4\"}",
            "{\"a\":\"tab\there\"}", "{} x", "{}{}", "{\"a\":1,\"a\":2}", "{\"a\":1}\u0000", "'a'",
            "{\"a\":[1,]}", "{\"a\":+1}", "/* c */ {}",
        };
        for (String s : bad) {
            assertThrows(HeaderJson.Malformed.class, () -> HeaderJson.parse(s), () -> "accepted: " + s);
        }
    }

    @Test
    void duplicateKeyNamesTheKeyAndOffset() {
        HeaderJson.Malformed e = assertThrows(HeaderJson.Malformed.class,
                () -> HeaderJson.parse("{\"w\":1,\"w\":2}"));
        assertTrue(e.getMessage().contains("duplicate key \"w\""), e.getMessage());
        assertEquals(7, e.offset());
    }

    @Test
    void writerEscapesAndReaderRoundTrips() throws Exception {
        String tricky = "quote\" back\\ nl\n tab\t ctl\u0001 e\u00e9 emoji\uD83D\uDE00";
        StringBuilder b = new StringBuilder();
        HeaderJson.writeString(b, tricky);
        assertEquals("\"quote\\\" back\\\\ nl\\n tab\\t ctl\\u0001 e\u00e9 emoji\uD83D\uDE00\"", b.toString());
        assertEquals(tricky, HeaderJson.parse(b.toString()));
    }

    @Test
    void deepNestingIsRefusedNotAStackOverflow() {
        String deep = "[".repeat(10_000) + "]".repeat(10_000);
        assertThrows(HeaderJson.Malformed.class, () -> HeaderJson.parse(deep));
    }

    /** A legal-size header whose one shape holds millions of sizes, or whose metadata holds millions of entries, is refused while parsing. */
    @Test
    void hugeArraysAndNestedObjectsAreRefusedBeforeTheyCostMemory() throws Exception {
        String longShape = "{\"t\": {\"shape\": [" + "0,".repeat(HeaderJson.Reader.MAX_ARRAY_VALUES) + "0]}}";
        HeaderJson.Malformed e = assertThrows(HeaderJson.Malformed.class, () -> HeaderJson.parse(longShape));
        assertTrue(e.getMessage().contains("an array of more than " + HeaderJson.Reader.MAX_ARRAY_VALUES + " values"), e.getMessage());
        HeaderJson.parse("{\"t\": {\"shape\": [" + "0,".repeat(HeaderJson.Reader.MAX_ARRAY_VALUES - 1) + "0]}}"); // the limit itself is fine

        StringBuilder metadata = new StringBuilder("{\"__metadata__\": {");
        for (int i = 0; i <= HeaderJson.Reader.MAX_NESTED_MEMBERS; i++) {
            metadata.append(i == 0 ? "" : ",").append("\"k").append(i).append("\": \"v\"");
        }
        metadata.append("}}");
        HeaderJson.Malformed m = assertThrows(HeaderJson.Malformed.class, () -> HeaderJson.parse(metadata.toString()));
        assertTrue(m.getMessage().contains("a nested object of more than " + HeaderJson.Reader.MAX_NESTED_MEMBERS + " entries"), m.getMessage());
    }
}
