//! One error type for every function: it keeps its cause, says whether a retry can help, and maps
//! to a stable `errorType` in the Lambda runtime's diagnostics.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Error codes AWS uses for throttling (refusing for our rate)...
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
];

/// ... and for passing faults. Both are retryable; anything else from a service is final.
const PASSING_FAULT_CODES: &[&str] = &[
    "PriorRequestNotComplete",
    "InternalError",
    "InternalFailure",
    "InternalServiceErrorException",
    "ServiceUnavailable",
    "Unavailable",
];

/// Calls throttled past the SDK's own retries since the count was last taken (the process runs
/// one invocation at a time).
static THROTTLED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many AWS calls were throttled past the SDK's retries since the last time this was asked
/// (the run's `AwsThrottled` metric), and start again from zero.
pub fn take_throttled() -> usize {
    THROTTLED.swap(0, std::sync::atomic::Ordering::Relaxed)
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The function's own settings are missing or wrong: fix the deployment.
    #[error("configuration: {0}")]
    Config(String),

    /// Another run holds the work this one would do (the acceptor applies one run at a time):
    /// nothing was changed; trying again later helps.
    #[error("busy: {0}")]
    Busy(String),

    /// The event is not one this function understands, or is malformed. Nothing was changed.
    #[error("invalid event: {0}")]
    InvalidEvent(String),

    /// The policy document is missing or invalid. Nothing was accepted.
    #[error("policy: {0}")]
    Policy(#[from] crate::documents::PolicyError),

    /// An AWS call failed (after the SDK's own retries).
    #[error("{operation}: {message}")]
    Aws {
        operation: &'static str,
        code: Option<String>,
        message: String,
        retryable: bool,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A notification could not be delivered to a chat service (after our own retries). The
    /// message never contains the webhook URL or token.
    #[error("{service}: {message}")]
    Delivery {
        service: &'static str,
        message: String,
        retryable: bool,
    },

    /// A request or a record could not be encoded (an SDK builder refused it, a record did not
    /// serialise): a defect, not a passing fault. Nothing was sent.
    #[error("encoding {what}: {source}")]
    Encoding {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// AWS answered, but some items of a batch call were not applied.
    #[error("{} item(s) not applied: {}", .0.len(), summarize(.0))]
    Unapplied(Vec<ItemFailure>),
}

/// A value a pure check refused, and why. Its caller makes it the [`Error`] its context calls
/// for (an invalid event, a configuration error) or a reason to leave an event alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<&str> for Invalid {
    fn from(why: &str) -> Self {
        Invalid(why.to_owned())
    }
}

impl From<String> for Invalid {
    fn from(why: String) -> Self {
        Invalid(why)
    }
}

/// One item of a batch call that AWS reported as `Unsuccessful`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ItemFailure {
    pub resource_id: String,
    pub code: String,
    pub message: String,
}

/// The `Unsuccessful` items of an EC2 batch call (Accept/Reject connections, delete
/// notifications), each with its code and message.
#[cfg(any(feature = "endpoint-connections", feature = "connection-notifications"))]
pub fn unsuccessful(items: &[aws_sdk_ec2::types::UnsuccessfulItem]) -> Vec<ItemFailure> {
    items
        .iter()
        .map(|item| ItemFailure {
            resource_id: item.resource_id().unwrap_or("(no id)").to_owned(),
            code: item
                .error()
                .and_then(|e| e.code())
                .unwrap_or("Unknown")
                .to_owned(),
            message: item
                .error()
                .and_then(|e| e.message())
                .unwrap_or_default()
                .to_owned(),
        })
        .collect()
}

fn summarize(items: &[ItemFailure]) -> String {
    items
        .iter()
        .map(|i| format!("{} ({}: {})", i.resource_id, i.code, i.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `CredentialsRefused` when the error's cause is a credentials provider that answered with a
/// refusal (STS `AccessDenied` for a spoke or consumer role, a role that does not exist), not a
/// timeout or an unreachable endpoint.
fn credentials_refused(err: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    #[cfg(any(
        feature = "endpoint-connections",
        feature = "private-zones",
        feature = "availability-zones"
    ))]
    {
        use aws_credential_types::provider::error::CredentialsError;
        let mut cause = err.source();
        while let Some(e) = cause {
            if let Some(c) = e.downcast_ref::<CredentialsError>() {
                return matches!(
                    c,
                    CredentialsError::ProviderError(_) | CredentialsError::InvalidConfiguration(_)
                )
                .then_some("CredentialsRefused");
            }
            cause = e.source();
        }
    }
    let _ = err;
    None
}

impl Error {
    /// Wrap an SDK error, keeping the service's error code and whether a retry can help.
    pub fn aws<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let refused = credentials_refused(&err);
        let code = err.code().or(refused).map(str::to_owned);
        let retryable = match &err {
            // A role another account will not let us assume fails before the request is sent;
            // trying again does not help.
            SdkError::DispatchFailure(_) if refused.is_some() => false,
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(_) => code
                .as_deref()
                .is_some_and(|c| THROTTLING_CODES.contains(&c) || PASSING_FAULT_CODES.contains(&c)),
            _ => false,
        };
        if code
            .as_deref()
            .is_some_and(|c| THROTTLING_CODES.contains(&c))
        {
            THROTTLED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let message = DisplayErrorContext(&err).to_string();
        Error::Aws {
            operation,
            code,
            message,
            retryable,
            source: Box::new(err),
        }
    }

    /// `what` could not be encoded.
    pub fn encoding(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Encoding {
            what,
            source: Box::new(source),
        }
    }

    /// Whether running the same invocation again may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Aws { retryable, .. } | Error::Delivery { retryable, .. } => *retryable,
            // Unsuccessful items are often a race (an endpoint that changed state meanwhile): the
            // retry re-reads the truth and decides again.
            Error::Unapplied(_) | Error::Busy(_) => true,
            Error::Config(_)
            | Error::InvalidEvent(_)
            | Error::Policy(_)
            | Error::Encoding { .. } => false,
        }
    }

    /// A stable name for dashboards and alarms (`errorType` in CloudWatch).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config(_) => "Config",
            Error::InvalidEvent(_) => "InvalidEvent",
            Error::Policy(_) => "Policy",
            Error::Aws {
                retryable: true, ..
            } => "AwsTransient",
            Error::Aws {
                retryable: false, ..
            } => "Aws",
            Error::Unapplied(_) => "Unapplied",
            Error::Delivery { .. } => "Delivery",
            Error::Busy(_) => "Busy",
            Error::Encoding { .. } => "Encoding",
        }
    }

    /// The AWS error code, when the error came from a service.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

#[cfg(feature = "lambda")]
impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.kind().to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "lambda")]
    fn diagnostics_carry_a_stable_type_and_the_message() {
        let d: lambda_runtime::Diagnostic = Error::InvalidEvent("no Records".into()).into();
        assert_eq!(d.error_type, "InvalidEvent");
        assert_eq!(d.error_message, "invalid event: no Records");
    }

    #[test]
    #[cfg(feature = "private-zones")]
    fn a_throttled_call_is_counted_once_for_the_runs_metric() {
        use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsError;
        use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        let refused = |code: &str| {
            let err = DescribeVpcsError::generic(ErrorMetadata::builder().code(code).build());
            let response = HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
            Error::aws("ec2:DescribeVpcs", SdkError::service_error(err, response))
        };
        take_throttled();
        let _ = refused("RequestLimitExceeded");
        let _ = refused("InvalidVpcID.NotFound");
        let _ = refused("Throttling");
        assert_eq!(take_throttled(), 2);
        assert_eq!(take_throttled(), 0);
    }

    #[test]
    fn unapplied_items_are_listed_and_retryable() {
        let e = Error::Unapplied(vec![ItemFailure {
            resource_id: "vpce-1".into(),
            code: "InvalidVpcEndpointState".into(),
            message: "not pending".into(),
        }]);
        assert!(e.retryable());
        assert_eq!(
            e.to_string(),
            "1 item(s) not applied: vpce-1 (InvalidVpcEndpointState: not pending)"
        );
    }

    #[test]
    #[cfg(feature = "private-zones")]
    fn a_role_sts_refuses_is_final_and_a_timed_out_one_is_retried() {
        use aws_credential_types::provider::error::CredentialsError;
        use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
        use aws_smithy_runtime_api::client::result::ConnectorError;
        type Sdk = SdkError<aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsError, HttpResponse>;
        let failed = |cause: CredentialsError| -> Error {
            let err: Sdk = SdkError::dispatch_failure(ConnectorError::other(Box::new(cause), None));
            Error::aws("ec2:DescribeVpcs", err)
        };
        let refused = failed(CredentialsError::provider_error(
            "AccessDenied: not authorized to perform sts:AssumeRole",
        ));
        assert!(!refused.retryable(), "{refused}");
        assert_eq!(refused.code(), Some("CredentialsRefused"));
        let slow = failed(CredentialsError::provider_timed_out(
            std::time::Duration::from_secs(5),
        ));
        assert!(slow.retryable(), "{slow}");
        assert_eq!(slow.code(), None);
    }
}
