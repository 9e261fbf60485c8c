//! YAML output that every reader parses back to the JSON values.
//!
//! Every string is double-quoted, with escapes YAML and JSON share: `\"`,
//! `\\`, `\n`, `\t`, `\r` and `\uXXXX`, which also stands for every
//! character outside YAML's printable set (a reader refuses the whole
//! document over one U+FFFE) and for the characters YAML 1.1 reads as line
//! breaks (NEL, LS, PS: folded into a space unless escaped). Unquoted,
//! `2026-11-23T22:10:05Z` is a timestamp and `no` a boolean to YAML 1.1
//! readers such as PyYAML, while the README says YAML times are the same
//! strings as in JSON. General-purpose serializers quote only what their
//! own YAML 1.2 resolver would misread.

use serde_json::Value;

/// `value` as a YAML document, ending in a newline.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out),
        Value::Object(map) if !map.is_empty() => mapping(map, 0, &mut out),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

/// Scalars and empty collections, written on one line.
fn inline(value: &Value) -> String {
    match value {
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
        Value::String(text) => quoted(text),
        scalar => scalar.to_string(),
    }
}

/// A double-quoted scalar that reads back as exactly `text`.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Every such character is in the Basic Multilingual Plane.
            c if needs_escape(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Outside YAML 1.2's printable set (x9 xA xD x20-x7E x85 xA0-xD7FF
/// xE000-xFFFD x10000-x10FFFF), or a line break to YAML 1.1 (x85, LS, PS),
/// or a byte order mark (which readers may drop).
fn needs_escape(c: char) -> bool {
    let printable = matches!(c,
        '\t' | '\n' | '\r' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
    !printable || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => false,
    }
}

fn mapping(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        // Keys are tokenctl's own field names: plain and unambiguous.
        out.push_str(key);
        out.push(':');
        if is_block(value) {
            out.push('\n');
            block(value, indent + 2, out);
        } else {
            out.push(' ');
            out.push_str(&inline(value));
            out.push('\n');
        }
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        if is_block(item) {
            // The item's first line goes after "- ", the rest beneath it.
            let mut nested = String::new();
            block(item, indent + 2, &mut nested);
            out.push_str(&" ".repeat(indent));
            out.push_str("- ");
            out.push_str(&nested[indent + 2..]);
        } else {
            out.push_str(&" ".repeat(indent));
            out.push_str("- ");
            out.push_str(&inline(item));
            out.push('\n');
        }
    }
}

fn block(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Array(items) => sequence(items, indent, out),
        Value::Object(map) => mapping(map, indent, out),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_quoted_and_shapes_nest() {
        let value = json!([
            {"id": "a1", "acls": ["all", "no"], "created": "2026-11-23T22:10:05Z",
             "last_used": null, "allow_ips": [], "n": 3, "ok": true,
             "note": "line\nbreak \"quoted\" \u{1b}[31m"},
            {"id": "b2", "tokens": [{"x": "y"}]}
        ]);
        let text = to_string(&value);
        assert_eq!(
            text,
            concat!(
                "- id: \"a1\"\n",
                "  acls:\n",
                "    - \"all\"\n",
                "    - \"no\"\n",
                "  created: \"2026-11-23T22:10:05Z\"\n",
                "  last_used: null\n",
                "  allow_ips: []\n",
                "  n: 3\n",
                "  ok: true\n",
                "  note: \"line\\nbreak \\\"quoted\\\" \\u001b[31m\"\n",
                "- id: \"b2\"\n",
                "  tokens:\n",
                "    - x: \"y\"\n",
            )
        );
        assert_eq!(to_string(&json!([])), "[]\n");
        assert_eq!(
            to_string(&json!(
                "a\u{85}b\u{fffe}\u{2028}\u{7f}\u{9b}\u{feff}\u{1f600}é"
            )),
            "\"a\\u0085b\\ufffe\\u2028\\u007f\\u009b\\ufeff\u{1f600}é\"\n"
        );
        assert_eq!(
            to_string(&json!({"revoked": 0, "tokens": []})),
            "revoked: 0\ntokens: []\n"
        );
    }
}
