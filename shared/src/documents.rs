//! The written documents the deciding jobs obey (the connection policy, the zone rules): where
//! one is read from, and what makes it unusable. An unusable document changes nothing.

#[cfg(any(feature = "endpoint-connections", feature = "private-zones"))]
use crate::config::PolicySource;

/// Why a document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("could not read the policy from {location}: {reason}")]
    Unreadable { location: String, reason: String },
    #[error("the policy is not valid JSON: {0}")]
    Syntax(String),
    #[error("the policy is invalid: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// One reason a document cannot be used, with its place: the path in the document
/// (`services.vpce-….allow[0].accounts[1]`) and the line and column, where they are known.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub path: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

/// Each problem of `err`, placed in `text` (the document it was found in).
pub fn explain(err: &PolicyError, text: &str) -> Vec<Problem> {
    match err {
        PolicyError::Unreadable { .. } => vec![Problem {
            path: None,
            line: None,
            column: None,
            message: err.to_string(),
        }],
        // serde_json ends its messages with "at line L column C".
        PolicyError::Syntax(message) => {
            let (message, line, column) = match message.rsplit_once(" at line ") {
                Some((head, tail)) => {
                    let mut numbers = tail.split(" column ").map(|n| n.trim().parse().ok());
                    (
                        head.to_owned(),
                        numbers.next().flatten(),
                        numbers.next().flatten(),
                    )
                }
                None => (message.clone(), None, None),
            };
            vec![Problem {
                path: None,
                line,
                column,
                message,
            }]
        }
        PolicyError::Invalid(problems) => problems
            .iter()
            .map(|p| match p.split_once(": ") {
                Some((path, message)) if !path.contains(' ') => {
                    let place = locate(text, path);
                    Problem {
                        path: Some(path.to_owned()),
                        line: place.map(|(l, _)| l),
                        column: place.map(|(_, c)| c),
                        message: message.to_owned(),
                    }
                }
                _ => Problem {
                    path: None,
                    line: None,
                    column: None,
                    message: p.clone(),
                },
            })
            .collect(),
    }
}

/// A step of a path: an object's key or an array's index.
#[derive(Debug, PartialEq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        for index in rest.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                out.push(Step::Index(i));
            }
        }
    }
    out
}

/// The line and column (from 1) of the value at `path` in the JSON `text`, or of the deepest
/// part of the path that exists (a missing field is reported where its object is).
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let steps = steps(path);
    let offset = (0..=steps.len()).rev().find_map(|n| {
        let mut scan = Scan {
            bytes: text.as_bytes(),
            at: 0,
        };
        scan.find(&steps[..n])
    })?;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, column))
}

/// A cursor over a JSON text that can find a path's value and skip any value.
struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scan<'_> {
    fn peek(&mut self) -> Option<u8> {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string's raw contents (escapes left as written: keys here need none).
    fn string(&mut self) -> Option<&str> {
        self.eat(b'"')?;
        let start = self.at;
        while *self.bytes.get(self.at)? != b'"' {
            self.at += if self.bytes[self.at] == b'\\' { 2 } else { 1 };
        }
        self.at += 1;
        std::str::from_utf8(self.bytes.get(start..self.at - 1)?).ok()
    }

    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let close = if self.bytes[self.at] == b'{' {
                    b'}'
                } else {
                    b']'
                };
                self.at += 1;
                if self.eat(close).is_some() {
                    return Some(());
                }
                loop {
                    if close == b'}' {
                        self.string()?;
                        self.eat(b':')?;
                    }
                    self.skip()?;
                    if self.eat(b',').is_none() {
                        return self.eat(close);
                    }
                }
            }
            _ => {
                while !matches!(
                    self.bytes.get(self.at),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                ) {
                    self.at += 1;
                }
                Some(())
            }
        }
    }

    /// The offset of the value at `path` from here.
    fn find(&mut self, path: &[Step<'_>]) -> Option<usize> {
        self.peek()?;
        let Some((first, rest)) = path.split_first() else {
            return Some(self.at);
        };
        match (first, self.bytes[self.at]) {
            (Step::Key(key), b'{') => {
                self.at += 1;
                loop {
                    let name = self.string()?.to_owned();
                    self.eat(b':')?;
                    if name == *key {
                        return self.find(rest);
                    }
                    self.skip()?;
                    self.eat(b',')?;
                }
            }
            (Step::Index(index), b'[') => {
                self.at += 1;
                for _ in 0..*index {
                    self.skip()?;
                    self.eat(b',')?;
                }
                self.find(rest)
            }
            _ => None,
        }
    }
}

/// Read a document's text from where the configuration says it lives.
#[cfg(any(feature = "endpoint-connections", feature = "private-zones"))]
pub async fn read(source: &PolicySource, ssm: &aws_sdk_ssm::Client) -> Result<String, PolicyError> {
    let unreadable = |reason: String| PolicyError::Unreadable {
        location: source.to_string(),
        reason,
    };
    let text = match source {
        PolicySource::Inline { text, .. } => text.clone(),
        PolicySource::File(path) => {
            std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?
        }
        PolicySource::Parameter(name) => ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                unreadable(aws_smithy_types::error::display::DisplayErrorContext(&e).to_string())
            })?
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| unreadable("the parameter has no value".into()))?,
    };
    Ok(text)
}

/// Refuse a document in which an object names the same key twice: serde keeps the last one
/// silently, so a second `"vpce-svc-…": {…}` would make the first rule set vanish without a word.
/// The error names the key, where it is (a path in the document) and its line.
pub fn no_duplicate_keys(text: &str) -> Result<(), PolicyError> {
    use serde::de::DeserializeSeed;
    let path = std::cell::RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_str(text);
    Unique(&path)
        .deserialize(&mut de)
        .map_err(|e| PolicyError::Syntax(e.to_string()))
}

/// One step of the path to a value: an object's key, or an array's index.
enum PathStep {
    Key(String),
    Index(usize),
}

/// Walks a JSON value, refusing repeated keys. The path walked so far is one stack shared by
/// the walk, written out only for an error: the check is linear in the document.
struct Unique<'p>(&'p std::cell::RefCell<Vec<PathStep>>);

impl Unique<'_> {
    fn place(&self) -> String {
        let path = self.0.borrow();
        if path.is_empty() {
            return "the top level".into();
        }
        let mut out = String::new();
        for step in path.iter() {
            match step {
                PathStep::Key(key) if out.is_empty() => out.push_str(key),
                PathStep::Key(key) => {
                    out.push('.');
                    out.push_str(key);
                }
                PathStep::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Unique<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate key {key:?} in {}",
                    self.place()
                )));
            }
            self.0.borrow_mut().push(PathStep::Key(key));
            map.next_value_seed(Unique(self.0))?;
            self.0.borrow_mut().pop();
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for i in 0.. {
            self.0.borrow_mut().push(PathStep::Index(i));
            let more = seq.next_element_seed(Unique(self.0))?.is_some();
            self.0.borrow_mut().pop();
            if !more {
                break;
            }
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{
  "version": 1,
  "services": {
    "vpce-svc-0a": {
      "allow": [
        { "accounts": ["111111111111"] },
        { "name": "x", "accounts": ["111111111111", "2222"], "vpcs": [] }
      ],
      "otherwise": "reject"
    }
  }
}"#;

    #[test]
    fn a_path_is_located_at_its_value() {
        assert_eq!(
            locate(POLICY, "services.vpce-svc-0a.allow[1].accounts[1]"),
            Some((7, 53))
        );
        assert_eq!(
            locate(POLICY, "services.vpce-svc-0a.otherwise"),
            Some((9, 20))
        );
        assert_eq!(locate(POLICY, "version"), Some((2, 14)));
        // A missing field is placed at the deepest part of its path that exists.
        assert_eq!(
            locate(POLICY, "services.vpce-svc-0a.allow[1].tags"),
            locate(POLICY, "services.vpce-svc-0a.allow[1]")
        );
        assert_eq!(
            locate(POLICY, "services.vpce-svc-0a.allow[9]"),
            Some((5, 16))
        );
        assert_eq!(locate("not json", "a.b"), Some((1, 1)));
    }

    #[test]
    fn every_problem_is_explained_with_its_place() {
        let invalid = PolicyError::Invalid(vec![
            "services.vpce-svc-0a.allow[1].accounts[1]: \"2222\" is not a 12-digit account id"
                .into(),
            "the policy names no service".into(),
        ]);
        let problems = explain(&invalid, POLICY);
        assert_eq!(
            problems[0],
            Problem {
                path: Some("services.vpce-svc-0a.allow[1].accounts[1]".into()),
                line: Some(7),
                column: Some(53),
                message: "\"2222\" is not a 12-digit account id".into(),
            }
        );
        assert_eq!(problems[1].path, None);
        let syntax = PolicyError::Syntax("expected `,` or `}` at line 3 column 7".into());
        assert_eq!(
            explain(&syntax, POLICY)[0],
            Problem {
                path: None,
                line: Some(3),
                column: Some(7),
                message: "expected `,` or `}`".into(),
            }
        );
    }

    #[test]
    fn a_key_named_twice_is_an_error_naming_it_its_place_and_line() {
        let text = "{\"version\": 1, \"services\": {\n  \"vpce-svc-1\": {\"otherwise\": \"reject\"},\n  \"vpce-svc-1\": {\"otherwise\": \"hold\"}\n}}";
        let err = no_duplicate_keys(text).unwrap_err().to_string();
        assert!(
            err.contains("duplicate key \"vpce-svc-1\" in services"),
            "{err}"
        );
        assert!(err.contains("line 3"), "{err}");
        let nested = r#"{"rules": [{"zones": [], "zones": []}]}"#;
        let err = no_duplicate_keys(nested).unwrap_err().to_string();
        assert!(err.contains("duplicate key \"zones\" in rules[0]"), "{err}");
        assert!(no_duplicate_keys(r#"{"a": {"x": 1}, "b": {"x": [1, {"x": null}]}}"#).is_ok());
    }
}
