//! `pattern`s the generated client can compile.
//!
//! typify turns a string `pattern` into a validating newtype whose regular
//! expression is compiled by `regress` (ECMAScript syntax). FastAPI documents
//! carry Python `re` syntax (pydantic writes the pattern as the model author
//! typed it), and typify rejects the whole document over one of them. Here
//! each pattern is translated where Python syntax has an ECMAScript
//! equivalent, and a pattern that still does not compile is dropped with a
//! note: the value is then unchecked on the client side, which is what a
//! client without the pattern would do anyway.

use serde_json::Value;

use crate::Note;
use crate::schemas::for_each_schema_mut;

/// Translates or drops every `pattern` in the document's schemas.
pub(crate) fn make_compilable(document: &mut Value, notes: &mut Vec<Note>) {
    for_each_schema_mut(document, &mut |schema, pointer| {
        let Some(pattern) = schema.get("pattern").and_then(Value::as_str) else {
            return;
        };
        if regress::Regex::new(pattern).is_ok() {
            return;
        }
        let translated = python_to_ecmascript(pattern);
        let Some(object) = schema.as_object_mut() else {
            return;
        };
        match regress::Regex::new(&translated) {
            Ok(_) => {
                object.insert("pattern".into(), Value::String(translated));
            }
            Err(error) => {
                object.remove("pattern");
                notes.push(Note {
                    pointer: format!("{pointer}/pattern"),
                    message: format!(
                        "pattern dropped (the value is not checked by the client): \
                         not an ECMAScript regular expression: {error}"
                    ),
                });
            }
        }
    });
}

/// Rewrites the Python-only constructs of a regular expression into their
/// ECMAScript equivalents, outside character classes:
///
/// | Python | ECMAScript |
/// | --- | --- |
/// | `(?P<name>...)` | `(?<name>...)` |
/// | `(?P=name)` | `\k<name>` |
/// | `\A` | `^` |
/// | `\Z` | `$` |
/// | `(?#comment)` | removed |
///
/// Anything else is copied; the caller checks that the result compiles.
pub fn python_to_ecmascript(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len());
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let rest = &chars[i..];
        if c == '\\' {
            match rest.get(1) {
                Some('A') if !in_class => out.push('^'),
                Some('Z') if !in_class => out.push('$'),
                Some(next) => {
                    out.push('\\');
                    out.push(*next);
                }
                None => out.push('\\'),
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '[' {
            in_class = true;
            out.push(c);
            // A `]` right after `[` or `[^` is a literal in Python.
            if rest.get(1) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            if chars.get(i + 1) == Some(&']') {
                out.push_str("\\]");
                i += 1;
            }
            i += 1;
            continue;
        }
        if starts_with(rest, "(?P<") {
            out.push_str("(?<");
            i += 4;
            continue;
        }
        if starts_with(rest, "(?P=")
            && let Some(end) = rest.iter().position(|&c| c == ')')
        {
            let name: String = rest[4..end].iter().collect();
            out.push_str(&format!("\\k<{name}>"));
            i += end + 1;
            continue;
        }
        if starts_with(rest, "(?#")
            && let Some(end) = rest.iter().position(|&c| c == ')')
        {
            i += end + 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn starts_with(chars: &[char], prefix: &str) -> bool {
    let mut n = 0;
    for (expected, actual) in prefix.chars().zip(chars) {
        if expected != *actual {
            return false;
        }
        n += 1;
    }
    n == prefix.chars().count()
}

#[cfg(test)]
mod tests {
    use super::python_to_ecmascript;

    #[track_caller]
    fn check(python: &str, ecmascript: &str) {
        let translated = python_to_ecmascript(python);
        assert_eq!(translated, ecmascript);
        assert!(
            regress::Regex::new(&translated).is_ok(),
            "{translated} does not compile"
        );
    }

    #[test]
    fn named_groups_and_backreferences() {
        check(
            r"^data:(?P<mimetype>[\w]+/[\w\-\+\.]+)?(?:\;name\=(?P<name>[\w\.\-%!*'~\(\)]+))?",
            r"^data:(?<mimetype>[\w]+/[\w\-\+\.]+)?(?:\;name\=(?<name>[\w\.\-%!*'~\(\)]+))?",
        );
        check(r"(?P<q>['])x(?P=q)", r"(?<q>['])x\k<q>");
    }

    #[test]
    fn anchors_and_comments() {
        check(r"\Aabc\Z", "^abc$");
        check(r"a(?#why)b", "ab");
    }

    #[test]
    fn leading_bracket_in_class_is_literal() {
        check("[]a]", r"[\]a]");
        check("[^]a]", r"[^\]a]");
    }
}
