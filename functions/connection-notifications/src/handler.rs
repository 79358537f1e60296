//! Wiring: a CloudFormation custom resource request decoded by the engine, carried out, and
//! answered at its `ResponseURL`.

use autopilot::Error;
use autopilot::aws::SdkConfig;
use autopilot::cloudformation::{Request, Response, respond};
use autopilot::connection_notifications::ec2::Ec2Notifications;
use autopilot::connection_notifications::run::handle as run;
use autopilot::events::Answer;
use autopilot::https::HttpsClient;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::time::Duration;

/// Kept back from the invocation's deadline to deliver the answer.
const MARGIN: Duration = Duration::from_secs(15);

pub struct Deps {
    notifications: Ec2Notifications,
    http: HttpsClient,
}

impl Deps {
    pub fn new(sdk: &SdkConfig) -> Self {
        Deps {
            notifications: Ec2Notifications::new(aws_sdk_ec2::Client::new(sdk)),
            http: HttpsClient::new(),
        }
    }
}

/// Makes the change and answers CloudFormation. An error only when the answer could not be
/// delivered (Lambda then runs the request again: every step is idempotent) or the event is not
/// a custom resource request (nothing to answer, nothing changed).
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Answer<Response>, Error> {
    let request = Request::parse(event.payload).inspect_err(|e| {
        tracing::error!(error = %e, "not a custom resource request: nothing changed");
    })?;
    let deadline = autopilot::events::deadline(event.context.deadline, MARGIN);
    tracing::info!(
        request_type = ?request.request_type,
        stack_id = %request.stack_id,
        request_id = %request.request_id,
        "custom resource request"
    );
    let response = run(&deps.notifications, &request, deadline).await;
    tracing::info!(status = ?response.status, reason = %response.reason, data = ?response.data, "answer");
    respond(&deps.http, &request, &response, deadline + MARGIN)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "answer not delivered"))?;
    Ok(Answer::Ran(response))
}
