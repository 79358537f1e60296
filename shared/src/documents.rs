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
