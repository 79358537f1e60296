//! The one HTTPS client outside the AWS SDK (Slack, CloudFormation's response URL): hyper 1 and
//! rustls with the same crypto provider and system roots the SDK's client uses, so no second
//! HTTP or TLS stack is compiled.

use crate::error::Invalid;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use std::sync::OnceLock;

type Inner = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for `https://` (and `http://`, which callers allow only to loopback: see
/// [`checked_url`]). Built on its first request, as the SDK's client is: reading and parsing the
/// system's root certificates takes milliseconds a cold start need not spend.
#[derive(Default)]
pub struct HttpsClient {
    inner: OnceLock<std::result::Result<Inner, RequestError>>,
}

impl HttpsClient {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `request`; an error is one line naming what failed and its causes, and whether
    /// the request may have reached the server.
    pub async fn request(
        &self,
        request: hyper::Request<Full<Bytes>>,
    ) -> std::result::Result<hyper::Response<Incoming>, RequestError> {
        let client = self
            .inner
            .get_or_init(build)
            .as_ref()
            .map_err(Clone::clone)?;
        client.request(request).await.map_err(|e| RequestError {
            message: format!("unreachable: {}", chain(&e)),
            // Only a failed connection surely sent nothing; a connection cut later may have
            // carried the request.
            maybe_sent: !e.is_connect(),
        })
    }
}

/// A request that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub message: String,
    /// The request may have reached the server (and been acted on).
    pub maybe_sent: bool,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn build() -> std::result::Result<Inner, RequestError> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(crate::aws::crypto_provider())
        .map_err(|e| RequestError {
            message: format!("no TLS root certificates: {e}"),
            maybe_sent: false,
        })?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
}

/// `url` parsed, if it is `https://`, or `http://` to a loopback address (local runs). Judged by
/// the parsed host, so `http://127.0.0.1:@elsewhere/` is refused. The error names `what`, never
/// the URL (it can be a credential).
pub fn checked_url(what: &str, url: &str) -> std::result::Result<hyper::Uri, Invalid> {
    let refused = || {
        Invalid(format!(
            "{what} must be an https:// URL (http:// only to a loopback address)"
        ))
    };
    let uri: hyper::Uri = url.parse().map_err(|_| refused())?;
    let authority = uri.authority().ok_or_else(refused)?;
    if authority.as_str().contains('@') {
        return Err(Invalid(format!("{what} must not carry user information")));
    }
    let host = authority.host();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if loopback => Ok(uri),
        _ => Err(refused()),
    }
}

/// An error and its causes, one line.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_judged_by_their_parsed_host() {
        for ok in [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?sig=1",
            "http://127.0.0.1:8080/response",
            "http://localhost:9/x",
            "http://[::1]:9/x",
            "http://127.0.0.2/x",
        ] {
            assert!(checked_url("ResponseURL", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/x",
            "http://127.0.0.1:@evil.example/x",
            "https://user:pw@example.com/x",
            "http://127.0.0.1.evil.example/x",
            "ftp://127.0.0.1/x",
            "/relative",
            "not a url",
            "",
        ] {
            let err = checked_url("ResponseURL", bad).unwrap_err().0;
            assert!(err.starts_with("ResponseURL must"), "{bad}: {err}");
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
    }
}
