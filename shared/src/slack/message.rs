//! From an alert-topic message to a Slack Block Kit message: parse the AWS Chatbot custom
//! notification (or a CloudWatch alarm's change of state, from the alarm topic), then render it within Slack's documented limits so a long finding is cut
//! cleanly instead of being refused with `invalid_blocks`.
//!
//! Limits: <https://docs.slack.dev/reference/block-kit/blocks> (header text 150 characters,
//! section text 3000, at most 10 fields of 2000 each, context at most 10 elements, 50 blocks per
//! message).

use crate::error::{Error, Result};
use crate::events::SnsNotice;
use crate::notify::{Fact, Facts, Lifecycle, Notification, Severity, alarm};
use serde_json::{Value, json};

pub const HEADER_TEXT: usize = 150;
pub const SECTION_TEXT: usize = 3000;
pub const FIELDS_PER_SECTION: usize = 10;
pub const FIELD_TEXT: usize = 2000;
pub const CONTEXT_ELEMENTS: usize = 10;
pub const MAX_BLOCKS: usize = 50;
/// The notification text shown in phone and desktop notifications.
pub const FALLBACK_TEXT: usize = 3000;

/// One notification from the alert topic, with what its SNS delivery adds.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The SNS message id.
    pub message_id: String,
    pub published_epoch: i64,
    pub published: String,
    /// The topic's region, for console links.
    pub region: Option<String>,
    pub notification: Notification,
}

impl Alert {
    /// Reads the Chatbot custom-notification document, or the CloudWatch alarm state change, in
    /// an SNS message; anything else is a clear error (and nothing is posted). `None`: an alarm's
    /// change with nothing to say (a new alarm settling).
    pub fn from_sns(notice: &SnsNotice) -> Result<Option<Alert>> {
        let invalid =
            |why: String| Error::InvalidEvent(format!("SNS message {}: {why}", notice.message_id));
        let doc: Value = serde_json::from_str(&notice.message)
            .map_err(|e| invalid(format!("not JSON ({e})")))?;
        let notification = if alarm::is_alarm(&doc) {
            match alarm::notification(&doc).map_err(|e| invalid(e.0))? {
                Some(n) => n,
                None => return Ok(None),
            }
        } else {
            Notification::from_chatbot(&doc).map_err(|e| invalid(e.0))?
        };
        Ok(Some(Alert {
            message_id: notice.message_id.clone(),
            published_epoch: notice.published_epoch,
            published: notice.published.clone(),
            region: notice.topic_arn.split(':').nth(3).map(str::to_owned),
            notification,
        }))
    }

    /// `metadata.additionalContext`: account, VPC, service, AZ IDs, decision, reason, …
    fn facts(&self) -> &Facts {
        &self.notification.context
    }

    /// A finding that has gone away: posted in the thread of the message that opened it.
    pub fn resolves(&self) -> bool {
        matches!(
            self.notification.lifecycle(),
            Some(Lifecycle::Resolved { .. })
        )
    }

    /// What "posted once" is keyed on: the notification's own id, so a producer's retry in a
    /// second SNS message is posted once too; the SNS message id for a document without one.
    pub fn delivery_key(&self) -> String {
        if self.notification.id.is_empty() {
            format!("sns-message#{}", self.message_id)
        } else {
            self.notification.id.clone()
        }
    }

    /// A finding that a later resolution will reply to.
    pub fn opens(&self) -> bool {
        self.notification.lifecycle() == Some(Lifecycle::Opened)
    }

    /// The severity that decides whether and where it is posted: a resolution goes where the
    /// finding it closes went, even though it is itself only informational.
    pub fn routing_severity(&self) -> Severity {
        match self.notification.lifecycle() {
            Some(Lifecycle::Resolved { opened_severity }) => opened_severity,
            _ => self.notification.severity,
        }
    }
}

/// Facts shown as fields, in this order, with their labels; ids are shown as code.
const FACTS: &[(Fact, &str, bool)] = &[
    (Fact::Alarm, "Alarm", true),
    (Fact::Metric, "Metric", false),
    (Fact::Decision, "Decision", false),
    (Fact::Account, "Account", true),
    (Fact::Vpc, "VPC", true),
    (Fact::Endpoint, "Endpoint", true),
    (Fact::Service, "Endpoint service", true),
    (Fact::Zone, "Hosted zone", false),
    (Fact::Region, "Region", true),
    (Fact::Check, "Check", true),
    (Fact::AzId, "AZ ID", true),
    (Fact::AzIds, "AZ IDs", true),
    (Fact::ServiceAzIds, "Service AZ IDs", true),
    (Fact::EndpointAzIds, "Endpoint AZ IDs", true),
    (Fact::ConsumerAzIds, "Consumer AZ IDs", true),
    (Fact::HealthyPerAz, "Healthy targets per AZ ID", false),
    (Fact::TargetStates, "Target states", false),
    (Fact::Resource, "Resource", true),
    (Fact::OpenedSeverity, "Severity when opened", false),
    (Fact::Reason, "Reason", false),
    (Fact::Problem, "Problem", false),
    (Fact::Document, "Document", false),
];

/// Facts that are bookkeeping or machine-readable copies of the description.
const HIDDEN: &[Fact] = &[
    Fact::Status,
    Fact::Fingerprint,
    Fact::Decisions,
    Fact::DryRun,
    Fact::ZoneId,
    Fact::AzMatrix,
];

/// The Slack message body (`text` and `blocks`) for an alert; the caller adds the channel and
/// thread in bot-token mode.
pub fn render(alert: &Alert) -> Value {
    let badge = if alert.resolves() {
        "✅ RESOLVED"
    } else {
        match alert.notification.severity {
            Severity::Critical => "🔴 CRITICAL",
            Severity::Warning => "🟠 WARNING",
            Severity::Info => "🔵 INFO",
        }
    };
    let title = alert
        .notification
        .title
        .strip_prefix("Resolved: ")
        .unwrap_or(&alert.notification.title);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": clip(&format!("{badge} · {title}"), HEADER_TEXT), "emoji": true},
    })];
    if !alert.notification.description.trim().is_empty() {
        blocks.push(section(&clip_lines(
            &escape(&alert.notification.description),
            SECTION_TEXT,
        )));
    }
    if let Some(matrix) = alert.facts().get(Fact::AzMatrix) {
        blocks.extend(code_block(matrix));
    }
    let fields = fields(alert);
    for chunk in fields.chunks(FIELDS_PER_SECTION) {
        blocks.push(json!({"type": "section", "fields": chunk}));
    }
    if !alert.notification.next_steps.is_empty() {
        let steps = match alert.notification.next_steps.as_slice() {
            [one] => format!("*Next step*\n{}", escape(one)),
            many => format!(
                "*Next steps*\n{}",
                many.iter()
                    .map(|s| format!("• {}", escape(s)))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        };
        blocks.push(section(&clip_lines(&steps, SECTION_TEXT)));
    }
    let mut context = vec![format!(
        "<!date^{}^{{date_short_pretty}} at {{time_secs}}|{}>",
        alert.published_epoch, alert.published
    )];
    if let Some((label, url)) = console_link(alert) {
        context.push(format!("<{url}|{}>", escape(&label)));
    }
    if alert.notification.dry_run() {
        context.push("Dry run: nothing was changed".into());
    }
    let context: Vec<Value> = context
        .into_iter()
        .take(CONTEXT_ELEMENTS)
        .map(|text| json!({"type": "mrkdwn", "text": clip(&text, SECTION_TEXT)}))
        .collect();
    // Never more than Slack takes; the time and console link (last) are kept.
    blocks.truncate(MAX_BLOCKS - 1);
    blocks.push(json!({"type": "context", "elements": context}));
    json!({
        "text": clip(&format!("{badge}: {title}"), FALLBACK_TEXT),
        "blocks": blocks,
    })
}

/// Text as a code block in one section: whole lines within the section's limit, the fences always
/// closed (a backtick of the text cannot end the block early).
fn code_block(text: &str) -> Option<Value> {
    let text = escape(text.trim_end()).replace('`', "'");
    if text.trim().is_empty() {
        return None;
    }
    let fences = "```\n\n```".chars().count();
    Some(section(&format!(
        "```\n{}\n```",
        clip_lines(&text, SECTION_TEXT - fences)
    )))
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn fields(alert: &Alert) -> Vec<Value> {
    let facts = alert.facts();
    let known = FACTS.iter().filter_map(|(fact, label, code)| {
        facts
            .get(*fact)
            .map(|value| ((*label).to_owned(), value, *code))
    });
    // Then the rest by key: ours that have no label (`part`), other producers' facts.
    let others = facts
        .iter()
        .filter(|(k, _)| {
            Fact::of(k).is_none_or(|f| {
                !HIDDEN.contains(&f) && !FACTS.iter().any(|(known, _, _)| *known == f)
            })
        })
        .map(|(k, v)| (label_of(k), v, false));
    known
        .chain(others)
        .filter(|(_, value, _)| !value.trim().is_empty())
        .map(|(label, value, code)| {
            let label = format!("*{}*\n", clip(&escape(&label), 100));
            let room = FIELD_TEXT.saturating_sub(label.chars().count() + 2);
            let value = clip(&escape(value), room);
            let text = if code && !value.contains('`') {
                format!("{label}`{value}`")
            } else {
                format!("{label}{value}")
            };
            json!({"type": "mrkdwn", "text": text})
        })
        .collect()
}

/// `opened_severity` → `Opened severity`.
fn label_of(key: &str) -> String {
    let spaced = key.replace('_', " ");
    let mut chars = spaced.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The resource the alert is mainly about, as a link into the AWS console.
pub fn console_link(alert: &Alert) -> Option<(String, String)> {
    let region = alert
        .facts()
        .get(Fact::Region)
        .or(alert.region.as_deref())?;
    // Only a well-formed region of a partition with a public console: the link cannot be made
    // to point anywhere else.
    if !crate::ids::is_region(region) {
        return None;
    }
    let console = match crate::ids::partition(region) {
        "aws" => "console.aws.amazon.com",
        "aws-cn" => "console.amazonaws.cn",
        "aws-us-gov" => "console.amazonaws-us-gov.com",
        _ => return None,
    };
    // An alarm, by a name the stack gives it (nothing a link could be bent with).
    if let Some(name) = alert.facts().get(Fact::Alarm).filter(|n| is_alarm_name(n)) {
        return Some((
            format!("Alarm {name} in the AWS console"),
            format!(
                "https://{region}.{console}/cloudwatch/home?region={region}#alarmsV2:alarm/{name}"
            ),
        ));
    }
    let vpc = format!("https://{region}.{console}/vpcconsole/home?region={region}");
    let ec2 = format!("https://{region}.{console}/ec2/home?region={region}");
    let route53 = format!("https://{console}/route53/v2/hostedzones#ListRecordSets");
    // A hosted zone id has no prefix to know it by: it is taken from its own fact. Every id is
    // checked against its pattern before it goes into a link: a message on the topic is not
    // trusted to be ours.
    if let Some(zone) = alert.notification.zone_id().filter(|z| is_zone_id(z)) {
        return Some((
            format!("Hosted zone {zone} in the AWS console"),
            format!("{route53}/{zone}"),
        ));
    }
    let candidates = [Fact::Resource, Fact::Service, Fact::Endpoint, Fact::Vpc]
        .into_iter()
        .filter_map(|f| alert.facts().get(f))
        .chain(
            alert
                .notification
                .related_resources
                .iter()
                .map(String::as_str),
        );
    for id in candidates {
        let link = if crate::ids::is_id(id, "vpce-svc-") {
            Some((
                format!("Endpoint service {id}"),
                format!("{vpc}#EndpointServiceDetails:endpointServiceId={id}"),
            ))
        } else if crate::ids::is_id(id, "vpce-") {
            Some((
                format!("Endpoint {id}"),
                format!("{vpc}#EndpointDetails:vpcEndpointId={id}"),
            ))
        } else if crate::ids::is_id(id, "vpc-") {
            Some((format!("VPC {id}"), format!("{vpc}#VpcDetails:VpcId={id}")))
        } else if is_arn(id) && id.contains(":loadbalancer/") {
            Some((
                "Load balancer".into(),
                format!("{ec2}#LoadBalancer:loadBalancerArn={id}"),
            ))
        } else if is_arn(id) && id.contains(":targetgroup/") {
            Some((
                "Target group".into(),
                format!("{ec2}#TargetGroup:targetGroupArn={id}"),
            ))
        } else {
            None
        };
        if let Some((label, url)) = link {
            return Some((format!("{label} in the AWS console"), url));
        }
    }
    None
}

/// An alarm name of letters, digits, `-`, `_` and `.` (the stack's are `<stack>-<what>`).
fn is_alarm_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A Route 53 hosted zone id: `Z` and up to 31 more uppercase letters and digits.
fn is_zone_id(id: &str) -> bool {
    id.starts_with('Z')
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// An ARN made only of the characters ARNs of load balancers and target groups use.
fn is_arn(id: &str) -> bool {
    id.starts_with("arn:aws")
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":/-_.".contains(&b))
}

/// Slack's mrkdwn control characters (`&`, `<`, `>`) as entities.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters (Slack counts characters, not bytes); a cut ends in `…`.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    // Don't leave half an entity behind.
    let kept = match (kept.rfind('&'), kept.rfind(';')) {
        (Some(amp), semi) if semi.is_none_or(|s| s < amp) => kept[..amp].to_owned(),
        _ => kept,
    };
    format!("{}…", kept.trim_end())
}

/// Whole lines while they fit in `max` characters, then a note of how many were left out, so
/// markup is never cut in the middle of a line.
pub fn clip_lines(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut used = 0;
    for (i, line) in lines.iter().enumerate() {
        let note = format!("\n_…and {} more lines_", lines.len() - i);
        let len = line.chars().count() + usize::from(i > 0);
        if used + len + note.chars().count() > max {
            if i == 0 {
                return clip(line, max);
            }
            out.push_str(&note);
            return out;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
        used += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(message: Value) -> SnsNotice {
        SnsNotice {
            message_id: "m-1".into(),
            topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts".into(),
            subject: None,
            message: message.to_string(),
            published_epoch: 1_790_000_000,
            published: "2026-09-21T14:13:20Z".into(),
        }
    }

    fn chatbot(facts: Value) -> Value {
        json!({"version": "1.0", "source": "custom", "id": "x",
               "content": {"textType": "client-markdown", "title": "PrivateLink connections: 1 accepted",
                           "description": "• *accepted* `vpce-1`", "nextSteps": ["Nothing to do"]},
               "metadata": {"threadId": "vpce-svc-0123456789abcdef0", "summary": "1 accepted", "eventType": "EndpointConnectionDecisions",
                            "relatedResources": ["vpce-svc-0123456789abcdef0"], "additionalContext": facts}})
    }

    /// Every documented limit a message must meet; empty when it meets them all.
    fn violations(message: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        let blocks = message["blocks"].as_array().cloned().unwrap_or_default();
        if blocks.len() > 50 {
            out.push(format!("{} blocks", blocks.len()));
        }
        for b in &blocks {
            match b["type"].as_str() {
                Some("header") if len(&b["text"]["text"]) > 150 => out.push("header".into()),
                Some("section") => {
                    if len(&b["text"]["text"]) > 3000 {
                        out.push("section text".into());
                    }
                    let fields = b["fields"].as_array().cloned().unwrap_or_default();
                    if fields.len() > 10 || fields.iter().any(|f| len(&f["text"]) > 2000) {
                        out.push("fields".into());
                    }
                }
                Some("context") => {
                    let elements = b["elements"].as_array().cloned().unwrap_or_default();
                    if elements.len() > 10 || elements.iter().any(|e| len(&e["text"]) > 3000) {
                        out.push("context".into());
                    }
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn a_decision_renders_its_facts_time_and_console_link() {
        let facts = json!({"severity": "info", "account": "111122223333", "vpc": "vpc-1", "endpoint": "vpce-1",
                           "service": "vpce-svc-0123456789abcdef0", "decision": "accepted", "reason": "rule payments <ok>",
                           "decisions": "[{}]", "dry_run": "false"});
        let alert = Alert::from_sns(&notice(chatbot(facts))).unwrap().unwrap();
        assert_eq!(alert.region.as_deref(), Some("eu-west-1"));
        let m = render(&alert);
        assert_eq!(m["text"], "🔵 INFO: PrivateLink connections: 1 accepted");
        assert_eq!(
            m["blocks"][0]["text"]["text"],
            "🔵 INFO · PrivateLink connections: 1 accepted"
        );
        let fields: Vec<&str> = m["blocks"][2]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "*Decision*\naccepted",
                "*Account*\n`111122223333`",
                "*VPC*\n`vpc-1`",
                "*Endpoint*\n`vpce-1`",
                "*Endpoint service*\n`vpce-svc-0123456789abcdef0`",
                "*Reason*\nrule payments &lt;ok&gt;",
            ]
        );
        assert_eq!(m["blocks"][3]["text"]["text"], "*Next step*\nNothing to do");
        assert_eq!(
            m["blocks"][4]["elements"],
            json!([
                {"type": "mrkdwn", "text": "<!date^1790000000^{date_short_pretty} at {time_secs}|2026-09-21T14:13:20Z>"},
                {"type": "mrkdwn", "text": "<https://eu-west-1.console.aws.amazon.com/vpcconsole/home?region=eu-west-1#EndpointServiceDetails:endpointServiceId=vpce-svc-0123456789abcdef0|Endpoint service vpce-svc-0123456789abcdef0 in the AWS console>"},
            ])
        );
    }

    #[test]
    fn an_az_matrix_is_a_closed_code_block_within_the_section_limit() {
        let grid = "vpce-svc-1 · provider 123456789012\n  AZ ID     NLB │ 1\n  use1-az2  on  │ ⊘";
        let doc = chatbot(json!({"severity": "critical", "az_matrix": grid, "check": "blackhole"}));
        let m = render(&Alert::from_sns(&notice(doc)).unwrap().unwrap());
        assert_eq!(violations(&m), Vec::<String>::new());
        let block = m["blocks"][2]["text"]["text"].as_str().unwrap();
        assert_eq!(block, format!("```\n{grid}\n```"), "after the description");
        assert!(
            !m.to_string().contains("\"*Az matrix*"),
            "not a field as well"
        );
        // A forged or huge one: cut by whole lines, fences closed, no early fence.
        let huge = (0..500)
            .map(|i| format!("line {i} ``` <b>"))
            .collect::<Vec<_>>()
            .join("\n");
        let doc = chatbot(json!({"severity": "critical", "az_matrix": huge}));
        let m = render(&Alert::from_sns(&notice(doc)).unwrap().unwrap());
        assert_eq!(violations(&m), Vec::<String>::new());
        let block = m["blocks"][2]["text"]["text"].as_str().unwrap();
        assert!(
            block.starts_with("```\nline 0 ''' &lt;b&gt;") && block.ends_with("more lines_\n```")
        );
        assert_eq!(block.matches("```").count(), 2);
        assert!(block.chars().count() <= SECTION_TEXT);
    }

    #[test]
    fn a_long_finding_is_cut_to_slacks_limits() {
        let mut facts = serde_json::Map::new();
        facts.insert("severity".into(), json!("critical"));
        for i in 0..45 {
            facts.insert(format!("fact_{i:02}"), json!("é".repeat(5000)));
        }
        facts.insert("k".repeat(3000), json!("a key longer than a field"));
        let mut doc = chatbot(Value::Object(facts));
        doc["content"]["title"] = json!("T".repeat(400));
        doc["content"]["description"] = json!(
            (0..2000)
                .map(|i| format!("• line {i} & <more>"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        doc["content"]["nextSteps"] = json!(vec!["x".repeat(4000); 3]);
        let m = render(&Alert::from_sns(&notice(doc)).unwrap().unwrap());
        assert_eq!(violations(&m), Vec::<String>::new());
        let header = m["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), 150);
        assert!(header.ends_with('…'));
        let description = m["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(
            description.ends_with("more lines_"),
            "{}",
            &description[description.len() - 60..]
        );
        assert!(
            description
                .lines()
                .rev()
                .nth(1)
                .unwrap()
                .ends_with("&amp; &lt;more&gt;"),
            "whole lines only"
        );
        // 46 facts: five sections of at most ten fields, each field cut.
        let sections: Vec<&Value> = m["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b.get("fields").is_some())
            .collect();
        assert_eq!(sections.len(), 5);
        assert!(m["blocks"].as_array().unwrap().last().unwrap()["type"] == "context");
    }

    #[test]
    fn a_resolution_is_marked_and_routed_like_what_it_resolves() {
        let facts = json!({"severity": "info", "status": "resolved", "opened_severity": "critical",
                           "resource": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/orders/1"});
        let mut doc = chatbot(facts);
        doc["content"]["title"] = json!("Resolved: No healthy target in euw1-az2");
        doc["content"]["nextSteps"] = json!([]);
        let alert = Alert::from_sns(&notice(doc)).unwrap().unwrap();
        assert!(alert.resolves());
        assert_eq!(alert.routing_severity(), Severity::Critical);
        let m = render(&alert);
        assert_eq!(
            m["blocks"][0]["text"]["text"],
            "✅ RESOLVED · No healthy target in euw1-az2"
        );
        assert_eq!(
            console_link(&alert).unwrap().1,
            "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#LoadBalancer:loadBalancerArn=arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/orders/1"
        );
    }

    /// The region fact comes from outside: a link is made only for a well-formed region of a
    /// partition with a public console, so it cannot be pointed elsewhere.
    #[test]
    fn console_links_only_for_known_partitions_and_well_formed_regions() {
        let with_region = |region: &str| {
            let mut doc = chatbot(
                json!({"severity": "info", "vpc": "vpc-0abc0000000000000", "region": region}),
            );
            doc["content"]["nextSteps"] = json!([]);
            Alert::from_sns(&notice(doc)).unwrap().unwrap()
        };
        assert_eq!(
            console_link(&with_region("cn-north-1")).unwrap().1,
            "https://cn-north-1.console.amazonaws.cn/vpcconsole/home?region=cn-north-1#VpcDetails:VpcId=vpc-0abc0000000000000"
        );
        assert!(
            console_link(&with_region("us-gov-west-1"))
                .unwrap()
                .1
                .starts_with("https://us-gov-west-1.console.amazonaws-us-gov.com/")
        );
        for bad in ["evil.example/", "us-east-1.evil.example#", "us-iso-east-1"] {
            assert_eq!(console_link(&with_region(bad)), None, "{bad}");
        }
    }

    /// Ids come from outside too: one that is not what its prefix says makes no link, and the
    /// text that shows it is escaped, so a forged message cannot post a link of its own.
    #[test]
    fn a_forged_id_makes_no_link_and_its_markup_is_escaped() {
        let forged = "vpce-svc-0123456789abcdef0>|<https://evil.example/login|Open the console>";
        let mut doc = chatbot(
            json!({"severity": "critical", "service": forged, "region": "us-east-1",
                                     "zone_id": "Z1>|<https://evil.example|x>"}),
        );
        doc["metadata"]["relatedResources"] = json!([
            forged,
            "arn:aws:elasticloadbalancing:x:loadbalancer/<https://evil.example>"
        ]);
        doc["content"]["nextSteps"] = json!([]);
        let alert = Alert::from_sns(&notice(doc)).unwrap().unwrap();
        assert_eq!(console_link(&alert), None);
        let posted = render(&alert).to_string();
        assert!(!posted.contains("<https://evil.example"), "{posted}");
        assert!(
            posted.contains("&lt;https://evil.example/login"),
            "{posted}"
        );
    }

    #[test]
    fn what_is_not_a_chatbot_notification_is_refused_clearly() {
        let cases = [
            (json!("just text"), "not an AWS Chatbot custom notification"),
            (
                json!({"version": "1.0", "source": "custom", "content": {}}),
                "content.description is missing",
            ),
            (
                chatbot(json!({"severity": "urgent"})),
                "unknown severity \"urgent\"",
            ),
        ];
        for (doc, expected) in cases {
            let err = Alert::from_sns(&notice(doc)).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.starts_with("invalid event: SNS message m-1: "), "{err}");
        }
        let mut n = notice(json!({}));
        n.message = "{not json".into();
        assert!(
            Alert::from_sns(&n)
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
    }

    #[test]
    fn clipping_counts_characters_and_keeps_entities_whole() {
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(clip("ab &amp; cd", 6), "ab…");
        assert_eq!(clip_lines("a\nb", 10), "a\nb");
    }
}
