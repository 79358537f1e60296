//! `autopilot invoke FUNCTION --event FILE`: the function's own binary, run once on one event
//! under a local Lambda Runtime API (the protocol Lambda speaks to a custom runtime), against
//! whatever AWS endpoint the environment configures. The function's logs go to stderr, its
//! answer to stdout. <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>

use crate::output::Output;
use crate::{Failure, Outcome, Verdict};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub const FUNCTIONS: [&str; 5] = [
    "accept-endpoint-connections",
    "associate-private-zones",
    "audit-availability-zones",
    "notify-slack",
    "connection-notifications",
];

const PREFIX: &str = "/2018-06-01/runtime";
const REQUEST_ID: &str = "00000000-0000-4000-8000-000000000001";

/// What the function answered.
#[derive(Debug)]
enum Answer {
    Response(Value),
    Error(Value),
    /// It failed before asking for the event (its configuration, say).
    InitError(Value),
}

pub async fn run(
    out: &Output,
    function: &str,
    event: &Path,
    binary: Option<PathBuf>,
    timeout: u64,
) -> Outcome {
    if !FUNCTIONS.contains(&function) {
        return Err(Failure(format!(
            "{function:?} is not a function of this project (one of {})",
            FUNCTIONS.join(", ")
        )));
    }
    let payload = std::fs::read(event)
        .map_err(|e| Failure(format!("cannot read {}: {e}", event.display())))?;
    if serde_json::from_slice::<Value>(&payload).is_err() {
        return Err(Failure(format!(
            "{} is not a JSON document",
            event.display()
        )));
    }
    let binary = match binary.or_else(|| beside_this(function)) {
        Some(path) if path.is_file() => path,
        _ => {
            return Err(Failure(format!(
                "no binary for {function} next to this one: build it (`cargo build -p {function}`) or give --binary"
            )));
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure(format!("cannot listen on loopback: {e}")))?;
    let address = listener.local_addr()?;
    let (tx, mut rx) = mpsc::channel::<Answer>(1);
    let deadline_ms = now_ms() + timeout * 1000;
    tokio::spawn(serve(
        listener,
        payload,
        function.to_owned(),
        deadline_ms,
        tx,
    ));
    out.progress(&format!(
        "invoking {function} ({}) on {}",
        binary.display(),
        event.display()
    ));
    let mut child = match tokio::process::Command::new(&binary)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        // The function's logs are the operator's progress: stderr.
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return Err(Failure(format!("cannot start {}: {e}", binary.display()))),
    };
    let answer = tokio::select! {
        answer = rx.recv() => answer,
        status = child.wait() => {
            // Exited without answering: a failed cold start reports its error first.
            let reported = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await.ok().flatten();
            reported.or_else(|| Some(Answer::InitError(json!({
                "errorType": "Exited",
                "errorMessage": format!("the function exited ({}) without answering", status.map(|s| s.to_string()).unwrap_or_default()),
            }))))
        }
        () = tokio::time::sleep(Duration::from_secs(timeout)) => None,
    };
    let _ = child.kill().await;
    match answer {
        Some(Answer::Response(body)) => {
            out.document(&body);
            Ok(Verdict::Clear)
        }
        Some(Answer::Error(body)) | Some(Answer::InitError(body)) => {
            out.document(&body);
            eprintln!(
                "error: {function} failed: {}",
                body["errorMessage"].as_str().unwrap_or("no message")
            );
            Ok(Verdict::Failed)
        }
        None => Err(Failure(format!(
            "{function} gave no answer within {timeout} s"
        ))),
    }
}

/// The function's binary next to this executable (`target/debug/<function>` beside
/// `target/debug/autopilot`).
fn beside_this(function: &str) -> Option<PathBuf> {
    Some(std::env::current_exe().ok()?.parent()?.join(function))
}

fn now_ms() -> u64 {
    autopilot::events::since_epoch().as_millis() as u64
}

/// The Runtime API for one invocation: the event to the first `next`, the answer back.
async fn serve(
    listener: TcpListener,
    payload: Vec<u8>,
    function: String,
    deadline_ms: u64,
    tx: mpsc::Sender<Answer>,
) {
    let served = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    while let Ok((stream, _)) = listener.accept().await {
        let (payload, function, tx, served) = (
            payload.clone(),
            function.clone(),
            tx.clone(),
            served.clone(),
        );
        tokio::spawn(async move {
            let _ = connection(stream, &payload, &function, deadline_ms, &tx, &served).await;
        });
    }
}

/// One HTTP/1.1 connection (kept alive by the runtime's client): request after request.
async fn connection(
    stream: TcpStream,
    payload: &[u8],
    function: &str,
    deadline_ms: u64,
    tx: &mpsc::Sender<Answer>,
    served: &std::sync::atomic::AtomicBool,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).await?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or_default();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let mut parts = request_line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let reply = match (method, path.strip_prefix(PREFIX).unwrap_or_default()) {
            ("GET", "/invocation/next") => {
                if served.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    // One invocation only: the next one never comes (the process is stopped).
                    std::future::pending::<()>().await;
                }
                let arn = format!("arn:aws:lambda:local:000000000000:function:{function}");
                response(
                    200,
                    &[
                        ("Lambda-Runtime-Aws-Request-Id", REQUEST_ID),
                        ("Lambda-Runtime-Deadline-Ms", &deadline_ms.to_string()),
                        ("Lambda-Runtime-Invoked-Function-Arn", &arn),
                        ("Content-Type", "application/json"),
                    ],
                    payload,
                )
            }
            ("POST", "/init/error") => {
                let _ = tx.send(Answer::InitError(body)).await;
                response(202, &[], b"{}")
            }
            ("POST", rest) if rest == format!("/invocation/{REQUEST_ID}/response") => {
                let _ = tx.send(Answer::Response(body)).await;
                response(202, &[], b"{}")
            }
            ("POST", rest) if rest == format!("/invocation/{REQUEST_ID}/error") => {
                let _ = tx.send(Answer::Error(body)).await;
                response(202, &[], b"{}")
            }
            _ => response(404, &[], b"{}"),
        };
        write.write_all(&reply).await?;
    }
}

fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        _ => "Not Found",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}
