//! The Slack secret over the real Secrets Manager client, with responses served by the SDK's
//! mocks: the value, a missing secret, a refusal and a binary-only secret.
#![allow(clippy::unwrap_used)]

use autopilot::slack::read_secret;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::Blob;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use std::time::Duration;

const SECRET: &str = "privatelink-autopilot/slack";

/// An error as Secrets Manager's JSON protocol sends it.
fn refusal(code: &str, message: &str) -> Response {
    let body = format!(r#"{{"__type":"{code}","message":"{message}"}}"#);
    Response::new(StatusCode::try_from(400).unwrap(), SdkBody::from(body))
}

fn retries(attempts: u32) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(1))
}

#[tokio::test]
async fn the_secret_string_of_the_named_secret_is_returned() {
    let get = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.secret_id() == Some(SECRET) && r.version_stage().is_none())
        .then_output(|| {
            GetSecretValueOutput::builder()
                .name(SECRET)
                .secret_string(r#"{"bot_token":"xoxb-1"}"#)
                .build()
        });
    let sm = mock_client!(aws_sdk_secretsmanager, RuleMode::Sequential, [&get]);
    let value = read_secret(&sm, SECRET).await.unwrap();
    assert_eq!(value, r#"{"bot_token":"xoxb-1"}"#);
    assert_eq!(get.num_calls(), 1);
}

#[tokio::test]
async fn a_missing_secret_is_a_final_error_naming_the_call_and_the_code() {
    let missing = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.secret_id() == Some(SECRET))
        .then_http_response(|| {
            refusal(
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret.",
            )
        });
    let sm = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::Sequential,
        [&missing],
        |c| c.retry_config(retries(3))
    );
    let err = read_secret(&sm, SECRET).await.unwrap_err();
    assert_eq!(missing.num_calls(), 1, "a missing secret is not retried");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert!(!err.retryable());
    assert_eq!(err.kind(), "Aws");
    let text = err.to_string();
    assert!(
        text.starts_with("secretsmanager:GetSecretValue: "),
        "{text}"
    );
    assert!(text.contains("can't find the specified secret"), "{text}");
}

#[tokio::test]
async fn access_denied_is_a_final_error_with_its_code() {
    let denied = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.secret_id() == Some(SECRET))
        .then_http_response(|| {
            refusal(
                "AccessDeniedException",
                "User is not authorized to perform: secretsmanager:GetSecretValue",
            )
        });
    let sm = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::Sequential,
        [&denied],
        |c| c.retry_config(retries(3))
    );
    let err = read_secret(&sm, SECRET).await.unwrap_err();
    assert_eq!(denied.num_calls(), 1, "a refusal is not retried");
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert!(!err.retryable());
    assert_eq!(err.kind(), "Aws");
    assert!(
        err.to_string()
            .contains("not authorized to perform: secretsmanager:GetSecretValue"),
        "{err}"
    );
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_retryable() {
    let throttled = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .sequence()
        .http_response(|| refusal("ThrottlingException", "Rate exceeded"))
        .repeatedly()
        .build();
    let sm = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::Sequential,
        [&throttled],
        |c| c.retry_config(retries(2))
    );
    let err = read_secret(&sm, SECRET).await.unwrap_err();
    assert_eq!(throttled.num_calls(), 2);
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert!(err.retryable());
    assert_eq!(err.kind(), "AwsTransient");
}

#[tokio::test]
async fn a_binary_only_secret_is_a_configuration_error_naming_the_secret() {
    let binary = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
        .match_requests(|r| r.secret_id() == Some(SECRET))
        .then_output(|| {
            GetSecretValueOutput::builder()
                .name(SECRET)
                .secret_binary(Blob::new(b"xoxb-1".to_vec()))
                .build()
        });
    let sm = mock_client!(aws_sdk_secretsmanager, RuleMode::Sequential, [&binary]);
    let err = read_secret(&sm, SECRET).await.unwrap_err();
    assert_eq!(err.kind(), "Config");
    assert!(!err.retryable());
    assert_eq!(err.code(), None);
    assert_eq!(
        err.to_string(),
        format!("configuration: the Slack secret {SECRET} has no SecretString")
    );
}
