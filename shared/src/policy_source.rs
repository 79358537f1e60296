//! Loading the policy document from where the configuration says it lives.

use crate::config::PolicySource;
use crate::policy::{Policy, PolicyError};
use aws_smithy_types::error::display::DisplayErrorContext;

/// Read and validate the connection policy. Any failure is a [`PolicyError`]: the caller accepts nothing.
pub async fn load(source: &PolicySource, ssm: &aws_sdk_ssm::Client) -> Result<Policy, PolicyError> {
    Policy::parse(&read(source, ssm).await?)
}

/// Read a policy document's text from where the configuration says it lives.
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
            .map_err(|e| unreadable(DisplayErrorContext(&e).to_string()))?
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| unreadable("the parameter has no value".into()))?,
    };
    Ok(text)
}
