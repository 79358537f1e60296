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
    let mut de = serde_json::Deserializer::from_str(text);
    Unique(String::new())
        .deserialize(&mut de)
        .map_err(|e| PolicyError::Syntax(e.to_string()))
}

/// Walks a JSON value, refusing repeated keys; holds the path walked so far.
struct Unique(String);

impl Unique {
    fn at(&self, key: &str) -> Unique {
        Unique(if self.0.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.0)
        })
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Unique {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                let place = if self.0.is_empty() {
                    "the top level"
                } else {
                    &self.0
                };
                return Err(serde::de::Error::custom(format!(
                    "duplicate key {key:?} in {place}"
                )));
            }
            map.next_value_seed(self.at(&key))?;
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(Unique(format!("{}[{i}]", self.0)))?
            .is_some()
        {
            i += 1;
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
