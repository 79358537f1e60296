//! CloudFormation custom resources: the request CloudFormation sends to the function, and the
//! response it waits for at the request's presigned `ResponseURL`.
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html>,
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html>

use crate::error::{Error, Result};
use crate::https::{HttpsClient, checked_url};
use bytes::Bytes;
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio::time::Instant;

/// "The total size of the response body can't exceed 4096 bytes."
pub const MAX_RESPONSE_BYTES: usize = 4096;
/// "can be up to 1 KB in size"
pub const MAX_PHYSICAL_ID_BYTES: usize = 1024;
/// Attempts at delivering a response when the URL's server fails or does not answer.
const ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// The fields of a request this project reads. `ResourceProperties` keeps `ServiceToken` beside
/// the template's properties; callers read only what they define.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// Absent on `Create`.
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Map<String, Value>,
}

/// Where CloudFormation's presigned response URLs live: S3, in the partition's domain
/// (`https://cloudformation-custom-resource-response-<region>.s3.amazonaws.com/…`; GovCloud's are
/// `amazonaws.com` too, China's `amazonaws.com.cn`). Any other host is not CloudFormation's, and
/// a request naming one is refused before anything is changed.
const RESPONSE_DOMAINS: &[&str] = &["amazonaws.com", "amazonaws.com.cn"];

/// The request's `ResponseURL`, if CloudFormation's: `https://` to a host in
/// [`RESPONSE_DOMAINS`] (or `http://` to a loopback address, for local runs).
pub fn response_url(url: &str) -> std::result::Result<hyper::Uri, crate::error::Invalid> {
    let uri = checked_url("ResponseURL", url)?;
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let theirs = RESPONSE_DOMAINS
        .iter()
        .any(|d| host.strip_suffix(d).is_some_and(|rest| rest.ends_with('.')));
    if uri.scheme_str() == Some("http") || theirs {
        Ok(uri)
    } else {
        Err(crate::error::Invalid(
            "ResponseURL must be CloudFormation's: https:// to an amazonaws.com (or amazonaws.com.cn) host".into(),
        ))
    }
}

impl Request {
    /// A custom resource request, or why the payload is not one. Nothing can be answered without
    /// a usable `ResponseURL`, so its absence is an invalid event, not a `FAILED` response.
    pub fn parse(payload: Value) -> Result<Self> {
        if payload.get("ResponseURL").is_none() || payload.get("RequestType").is_none() {
            return Err(Error::InvalidEvent(
                "not a CloudFormation custom resource request (no RequestType or ResponseURL)"
                    .into(),
            ));
        }
        let request: Request = serde_json::from_value(payload)
            .map_err(|e| Error::InvalidEvent(format!("malformed custom resource request: {e}")))?;
        response_url(&request.response_url).map_err(|e| Error::InvalidEvent(e.0))?;
        Ok(request)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

/// What the resource answers: the status, the reason (required when failed) and the physical id
/// that names the resource from now on (a different one makes CloudFormation delete the old).
/// The function answers it too, as its report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    pub status: Status,
    pub reason: String,
    pub physical_resource_id: String,
    pub data: Map<String, Value>,
}

impl Response {
    /// The JSON document sent to `ResponseURL`, never over [`MAX_RESPONSE_BYTES`]: data that
    /// cannot fit is dropped, and the reason cut to fit (saying so).
    pub fn body(&self, request: &Request) -> String {
        let physical: String = cut(&self.physical_resource_id, MAX_PHYSICAL_ID_BYTES);
        let document = |reason: &str, data: &Map<String, Value>| {
            json!({
                "Status": self.status,
                "Reason": reason,
                "PhysicalResourceId": physical,
                "StackId": request.stack_id,
                "RequestId": request.request_id,
                "LogicalResourceId": request.logical_resource_id,
                "Data": data,
            })
            .to_string()
        };
        // Data too large to fit beside any reason is dropped; then the reason is cut to fit.
        let empty = Map::new();
        let data = if document("", &self.data).len() > MAX_RESPONSE_BYTES {
            &empty
        } else {
            &self.data
        };
        let mut keep = self.reason.len();
        let mut body = document(&self.reason, data);
        while body.len() > MAX_RESPONSE_BYTES && keep > 0 {
            // Every byte cut from the reason takes at least one byte off the document.
            keep = keep.saturating_sub(body.len() - MAX_RESPONSE_BYTES + " (cut)".len());
            body = document(&format!("{} (cut)", cut(&self.reason, keep)), data);
        }
        body
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Sends the response: a `PUT` of the document to the presigned URL, with no `Content-Type`
/// (the URL is signed without one). A server error or no answer is tried again, without
/// waiting past `deadline`; what still fails is an error, so Lambda runs the request again.
pub async fn respond(
    http: &HttpsClient,
    request: &Request,
    response: &Response,
    deadline: Instant,
) -> Result<()> {
    let uri = response_url(&request.response_url).map_err(|e| Error::InvalidEvent(e.0))?;
    let body = Bytes::from(response.body(request));
    let mut attempt = 0;
    loop {
        attempt += 1;
        let timeout =
            Duration::from_secs(10).min(deadline.saturating_duration_since(Instant::now()));
        let put = hyper::Request::put(uri.clone())
            .header(hyper::header::CONTENT_LENGTH, body.len())
            .body(Full::new(body.clone()))
            .map_err(|e| failed(format!("building the request: {e}"), false))?;
        let why = match tokio::time::timeout(timeout, http.request(put)).await {
            Ok(Ok(answer)) if answer.status().is_success() => return Ok(()),
            Ok(Ok(answer)) if answer.status().is_server_error() => {
                format!("answered {}", answer.status().as_u16())
            }
            Ok(Ok(answer)) => {
                return Err(failed(
                    format!("refused the response: {}", answer.status().as_u16()),
                    false,
                ));
            }
            Ok(Err(why)) => why.message,
            Err(_) => format!("no answer within {timeout:?}"),
        };
        let wait = Duration::from_millis(500) * 2u32.pow(attempt - 1);
        if attempt >= ATTEMPTS || Instant::now() + wait >= deadline {
            return Err(failed(format!("{why} ({attempt} attempts)"), true));
        }
        tracing::warn!(reason = %why, "CloudFormation response retried");
        tokio::time::sleep(wait).await;
    }
}

fn failed(message: String, retryable: bool) -> Error {
    Error::Delivery {
        service: "CloudFormation",
        message,
        retryable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Value {
        json!({
            "RequestType": "Create",
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
            "RequestId": "r-1",
            "ResourceType": "Custom::ConnectionNotifications",
            "LogicalResourceId": "ConnectionNotifications",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:…", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t"}
        })
    }

    #[test]
    fn a_request_is_read_and_other_payloads_refused() {
        let r = Request::parse(request()).unwrap();
        assert_eq!(r.request_type, RequestType::Create);
        assert_eq!(r.physical_resource_id, None);
        assert_eq!(
            r.resource_properties["TopicArn"],
            "arn:aws:sns:us-east-1:123456789012:t"
        );

        for bad in [
            json!({"source": "aws.events"}),
            json!({"RequestType": "Create"}),
            json!({"RequestType": "Replace", "ResponseURL": "https://x/", "StackId": "s", "RequestId": "r", "LogicalResourceId": "l"}),
            json!({"RequestType": "Create", "ResponseURL": "https://x/"}),
        ] {
            assert!(matches!(Request::parse(bad), Err(Error::InvalidEvent(_))));
        }
        let mut elsewhere = request();
        elsewhere["ResponseURL"] = json!("http://collector.example/x");
        let err = Request::parse(elsewhere).unwrap_err().to_string();
        assert!(err.contains("ResponseURL must be an https:// URL"), "{err}");
    }

    #[test]
    fn only_cloudformations_response_hosts_are_answered() {
        for theirs in [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=1",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x",
            "https://S3.AMAZONAWS.COM/x",
            "http://127.0.0.1:8080/x",
        ] {
            assert!(response_url(theirs).is_ok(), "{theirs}");
        }
        for foreign in [
            "https://collector.example/x",
            "https://amazonaws.com.evil.example/x",
            "https://evilamazonaws.com/x",
            "https://amazonaws.com/x",
            "https://s3.amazonaws.com.cn.evil.example/x",
            "https://s3.amazonaws.com@evil.example/x",
        ] {
            let mut r = request();
            r["ResponseURL"] = json!(foreign);
            assert!(
                matches!(Request::parse(r), Err(Error::InvalidEvent(_))),
                "{foreign}"
            );
        }
    }

    #[test]
    fn the_response_carries_the_request_ids_and_fits_4096_bytes() {
        let r = Request::parse(request()).unwrap();
        let ok = Response {
            status: Status::Success,
            reason: String::new(),
            physical_resource_id: "p".into(),
            data: Map::from_iter([("Count".to_owned(), json!(2))]),
        };
        let doc: Value = serde_json::from_str(&ok.body(&r)).unwrap();
        assert_eq!(doc["Status"], "SUCCESS");
        assert_eq!(doc["StackId"], r.stack_id.as_str());
        assert_eq!(doc["RequestId"], "r-1");
        assert_eq!(doc["LogicalResourceId"], "ConnectionNotifications");
        assert_eq!(doc["Data"]["Count"], 2);

        // Multi-byte characters and characters JSON escapes, far over the limit.
        let long = Response {
            status: Status::Failed,
            reason: "vpce-svc-0123 (\"Invalid\": ünknown)\n".repeat(400),
            physical_resource_id: "p".repeat(5000),
            data: Map::from_iter([("Big".to_owned(), json!("x".repeat(5000)))]),
        };
        let body = long.body(&r);
        assert!(body.len() <= MAX_RESPONSE_BYTES, "{}", body.len());
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["Status"], "FAILED");
        assert!(doc["Reason"].as_str().unwrap().starts_with("vpce-svc-0123"));
        assert_eq!(
            doc["PhysicalResourceId"].as_str().unwrap().len(),
            MAX_PHYSICAL_ID_BYTES
        );
    }
}
