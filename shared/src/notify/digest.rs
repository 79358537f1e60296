//! One announcement for a batch of changes, the shape every job's announcement has: the title
//! tallies them ("3 accepted, 1 held"), the description has one line per change, the next steps
//! say what a human may do, a dry run is marked as one.
//!
//! A batch too long for one message becomes a summary (counts per group and change, and the next
//! steps) followed by parts that list every change, each message within what every channel takes:
//! Slack shows at most 3,000 characters of a section's text (and AWS Chatbot posts to Slack), an
//! SNS message is at most 256 KB. Every line appears whole in one part; none is cut.
//! <https://docs.slack.dev/reference/block-kit/blocks/section-block>,
//! <https://docs.aws.amazon.com/sns/latest/api/API_Publish.html>

use super::{EventType, Fact, Facts, Notification, Severity};
use crate::ids::fnv1a;
use serde_json::Value;
use std::collections::BTreeMap;

/// The longest description a message carries (Slack's section text).
pub const DESCRIPTION_LIMIT: usize = 3000;
/// At most this many related resources per message, so the metadata stays small too.
pub const RESOURCES_PER_MESSAGE: usize = 80;
/// The longest shared line (a third of a message, so parts fill well).
const SHARED_LINE: usize = DESCRIPTION_LIMIT / 3;

/// One change of the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// What identifies the change (its announce-once key): the message ids are made from these.
    pub key: String,
    /// The word the tally counts it under: "accepted", "would associate".
    pub verb: String,
    /// What the summary counts it under: a service, a zone.
    pub group: String,
    /// Its line in the description, without the bullet.
    pub line: String,
    /// Its place on a shared line when the batch is too long for one message: items with the
    /// same head are listed on one line, `head: member, member, …`.
    pub brief: Option<Brief>,
    /// The resources it is about, for `relatedResources`.
    pub resources: Vec<String>,
    /// Its structured form, listed under the digest's records fact.
    pub record: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brief {
    pub head: String,
    pub member: String,
}

/// One line of a description and the items it lists.
struct Line<'a> {
    text: String,
    items: Vec<&'a Item>,
}

#[derive(Debug, Clone)]
pub struct Digest {
    event_type: EventType,
    subject: String,
    id_prefix: String,
    keywords: Vec<String>,
    dry_run: bool,
    /// The thread every message of the batch goes to.
    pub thread_id: String,
    pub severity: Severity,
    items: Vec<Item>,
    next_steps: Vec<String>,
    /// The facts of a batch of one change (account, VPC, …), kept in the message's metadata.
    single_facts: Vec<(Fact, String)>,
    records_fact: Option<Fact>,
}

impl Digest {
    pub fn new(
        event_type: EventType,
        subject: &str,
        id_prefix: &str,
        keywords: &[&str],
        dry_run: bool,
    ) -> Self {
        Digest {
            event_type,
            subject: subject.into(),
            id_prefix: id_prefix.into(),
            keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
            dry_run,
            thread_id: id_prefix.into(),
            severity: Severity::Info,
            items: Vec::new(),
            next_steps: Vec::new(),
            single_facts: Vec::new(),
            records_fact: None,
        }
    }

    pub fn push(&mut self, item: Item) {
        self.items.push(item);
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Add a next step when `when` holds.
    pub fn step(&mut self, when: bool, text: &str) {
        if when {
            self.next_steps.push(text.to_owned());
        }
    }

    /// Facts kept in the metadata when the batch is one change.
    pub fn single_facts(&mut self, facts: impl IntoIterator<Item = (Fact, String)>) {
        self.single_facts = facts.into_iter().collect();
    }

    /// List the items' records, as one JSON array, under this fact.
    pub fn records_under(&mut self, fact: Fact) {
        self.records_fact = Some(fact);
    }

    /// "2 accepted, 1 held"
    pub fn tally<'a>(items: impl IntoIterator<Item = &'a Item>) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for item in items {
            *counts.entry(item.verb.as_str()).or_default() += 1;
        }
        counts
            .iter()
            .map(|(verb, n)| format!("{n} {verb}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn prefix(&self) -> &'static str {
        if self.dry_run { "[dry run] " } else { "" }
    }

    fn id<'a>(&self, items: impl IntoIterator<Item = &'a Item>) -> String {
        let keys: Vec<&str> = items.into_iter().map(|i| i.key.as_str()).collect();
        format!(
            "{}-{:016x}",
            self.id_prefix,
            fnv1a(keys.join("\n").as_bytes())
        )
    }

    /// The messages to publish, in order: one when the batch fits, otherwise a summary and its
    /// parts. Empty for an empty batch.
    pub fn notifications(&self) -> Vec<Notification> {
        if self.items.is_empty() {
            return Vec::new();
        }
        let tally = Self::tally(&self.items);
        let mut first = self.message(
            self.id(&self.items),
            format!("{}{}: {tally}", self.prefix(), self.subject),
            tally.clone(),
        );
        first.next_steps.clone_from(&self.next_steps);
        let full: Vec<Line> = self
            .items
            .iter()
            .map(|i| Line {
                text: bullet(&i.line),
                items: vec![i],
            })
            .collect();
        if let [only] = parts(full).as_slice() {
            self.fill(&mut first, only);
            if let [_] = self.items.as_slice() {
                first.context.extend(self.single_facts.iter().cloned());
            }
            return vec![first];
        }
        let parts = parts(self.shared_lines());
        first.description = self.summary(parts.len());
        first.related_resources = unique(
            self.items.iter().map(|i| i.group.clone()),
            RESOURCES_PER_MESSAGE,
        );
        let total = parts.len();
        let mut out = vec![first];
        for (n, part) in parts.iter().enumerate() {
            let items = part.iter().flat_map(|l| l.items.iter().copied());
            let tally = Self::tally(items.clone());
            let mut message = self.message(
                self.id(items),
                format!(
                    "{}{} ({}/{total}): {tally}",
                    self.prefix(),
                    self.subject,
                    n + 1
                ),
                tally,
            );
            message
                .context
                .set(Fact::Part, format!("{}/{total}", n + 1));
            self.fill(&mut message, part);
            out.push(message);
        }
        out
    }

    /// The items on as few lines as their briefs allow: one line per head (split when long),
    /// in the order the heads first appear.
    fn shared_lines(&self) -> Vec<Line<'_>> {
        let mut heads: Vec<&str> = Vec::new();
        let mut members: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
        let mut lines = Vec::new();
        for item in &self.items {
            match &item.brief {
                Some(brief) => {
                    let entry = members.entry(brief.head.as_str()).or_default();
                    if entry.is_empty() {
                        heads.push(&brief.head);
                    }
                    entry.push(item);
                }
                None => lines.push(Line {
                    text: bullet(&item.line),
                    items: vec![item],
                }),
            }
        }
        for head in heads {
            let mut line = Line {
                text: String::new(),
                items: Vec::new(),
            };
            for item in &members[head] {
                let member = item.brief.as_ref().map_or("", |b| b.member.as_str());
                if !line.items.is_empty() && line.text.len() + 2 + member.len() > SHARED_LINE {
                    lines.push(std::mem::replace(
                        &mut line,
                        Line {
                            text: String::new(),
                            items: Vec::new(),
                        },
                    ));
                }
                if line.items.is_empty() {
                    line.text = bullet(&format!("{head}: {member}"));
                } else {
                    line.text.push_str(", ");
                    line.text.push_str(member);
                }
                line.items.push(item);
            }
            lines.push(line);
        }
        lines
    }

    fn message(&self, id: String, title: String, tally: String) -> Notification {
        Notification {
            id,
            event_type: self.event_type.clone(),
            severity: self.severity,
            title,
            description: String::new(),
            next_steps: Vec::new(),
            keywords: self.keywords.clone(),
            thread_id: Some(self.thread_id.clone()),
            summary: format!("{}{tally}", self.prefix()),
            related_resources: Vec::new(),
            context: Facts::from_iter([Notification::dry_run_fact(self.dry_run)]),
        }
    }

    /// The description, resources and records of the lines one message lists.
    fn fill(&self, message: &mut Notification, lines: &[Line]) {
        let items: Vec<&Item> = lines.iter().flat_map(|l| l.items.iter().copied()).collect();
        message.description = lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        message.related_resources = unique(
            items
                .iter()
                .map(|i| i.group.clone())
                .chain(items.iter().flat_map(|i| i.resources.iter().cloned())),
            RESOURCES_PER_MESSAGE,
        );
        if let Some(fact) = self.records_fact {
            let records: Vec<Value> = items.iter().filter_map(|i| i.record.clone()).collect();
            message.context.set(fact, Value::Array(records).to_string());
        }
    }

    /// Counts per group and change, as many groups as fit; then where the full list is.
    fn summary(&self, parts: usize) -> String {
        let mut groups: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
        for item in &self.items {
            groups.entry(item.group.as_str()).or_default().push(item);
        }
        let closing = format!(
            "Every change is listed in the {parts} messages that follow (in the same thread)."
        );
        let mut lines: Vec<String> = Vec::new();
        let mut used = closing.len();
        for (shown, (group, items)) in groups.iter().enumerate() {
            let line = bullet(&format!(
                "`{group}`: {}",
                Self::tally(items.iter().copied())
            ));
            let rest = groups.len() - shown;
            // Keep room for the line saying how many groups are left out.
            if used + line.len() + 1 + 80 > DESCRIPTION_LIMIT && rest > 1 {
                lines.push(format!("…and {rest} more"));
                break;
            }
            used += line.len() + 1;
            lines.push(line);
        }
        lines.push(closing);
        lines.join("\n")
    }
}

fn bullet(line: &str) -> String {
    format!("• {line}")
}

fn unique(values: impl Iterator<Item = String>, at_most: usize) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    values
        .filter(|v| seen.insert(v.clone()))
        .take(at_most)
        .collect()
}

/// The lines in consecutive parts whose descriptions fit [`DESCRIPTION_LIMIT`]. A line longer
/// than the limit on its own is a part of its own (the Slack renderer then cuts it, marked).
fn parts(lines: Vec<Line>) -> Vec<Vec<Line>> {
    let mut out: Vec<Vec<Line>> = Vec::new();
    let mut size = 0;
    for line in lines {
        let len = line.text.len();
        match out.last_mut() {
            Some(part) if size + 1 + len <= DESCRIPTION_LIMIT => {
                size += 1 + len;
                part.push(line);
            }
            _ => {
                size = len;
                out.push(vec![line]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: usize, verb: &str, group: &str) -> Item {
        let endpoint = format!("vpce-{n:017x}");
        Item {
            key: format!("k:{n}"),
            verb: verb.into(),
            group: group.into(),
            line: format!(
                "*{verb}* `{endpoint}` from account `111111111111` to `{group}`: allowed by rule orders"
            ),
            brief: Some(Brief {
                head: format!(
                    "*{verb}* to `{group}` from account `111111111111`: allowed by rule orders"
                ),
                member: format!("`{endpoint}`"),
            }),
            resources: vec![endpoint.clone()],
            record: Some(serde_json::json!({ "endpoint": endpoint })),
        }
    }

    fn digest(items: impl IntoIterator<Item = Item>, dry_run: bool) -> Digest {
        let mut d = Digest::new(
            EventType::EndpointConnectionDecisions,
            "PrivateLink connections",
            "connections",
            &["privatelink"],
            dry_run,
        );
        d.records_under(Fact::Decisions);
        for i in items {
            d.push(i);
        }
        d
    }

    #[test]
    fn a_small_batch_is_one_message_with_its_tally_lines_and_steps() {
        let mut d = digest(
            [
                item(1, "accepted", "vpce-svc-a"),
                item(2, "rejected", "vpce-svc-a"),
                item(3, "accepted", "vpce-svc-a"),
            ],
            false,
        );
        d.step(true, "Look.");
        d.step(false, "Not this.");
        let [n] = d.notifications().try_into().unwrap();
        assert_eq!(n.title, "PrivateLink connections: 2 accepted, 1 rejected");
        assert_eq!(n.description.lines().count(), 3);
        assert!(
            n.description
                .starts_with("• *accepted* `vpce-00000000000000001` from account")
        );
        assert_eq!(n.next_steps, ["Look."]);
        assert_eq!(n.context.get(Fact::DryRun), Some("false"));
        assert_eq!(n.related_resources[0], "vpce-svc-a");
        assert_eq!(n.id, d.id(d.items()));
        assert!(digest([], false).notifications().is_empty());
    }

    #[test]
    fn a_dry_run_says_so_and_one_change_keeps_its_facts() {
        let mut d = digest([item(1, "would accept", "vpce-svc-a")], true);
        d.single_facts([(Fact::Account, "111111111111".to_owned())]);
        let [n] = d.notifications().try_into().unwrap();
        assert_eq!(n.title, "[dry run] PrivateLink connections: 1 would accept");
        assert_eq!(n.summary, "[dry run] 1 would accept");
        assert_eq!(
            (n.dry_run(), n.context.get(Fact::Account).unwrap()),
            (true, "111111111111")
        );
    }

    /// A thousand decisions: a summary within the limits, then parts that name every endpoint
    /// once, on shared lines.
    #[test]
    fn a_large_batch_is_a_summary_and_bounded_parts_naming_every_change_once() {
        let items: Vec<Item> = (0..1000)
            .map(|n| {
                let verb = if (n / 10) % 2 == 0 {
                    "accepted"
                } else {
                    "rejected"
                };
                item(n, verb, &format!("vpce-svc-{}", n % 10))
            })
            .collect();
        let mut d = digest(items.clone(), false);
        d.step(true, "Look.");
        let all = d.notifications();
        let (summary, parts) = all.split_first().unwrap();
        assert_eq!(
            summary.title,
            "PrivateLink connections: 500 accepted, 500 rejected"
        );
        assert!(
            summary
                .description
                .contains("• `vpce-svc-3`: 50 accepted, 50 rejected")
        );
        assert!(summary.description.ends_with(&format!(
            "listed in the {} messages that follow (in the same thread).",
            parts.len()
        )));
        assert_eq!(summary.next_steps, ["Look."]);
        assert!(
            parts.len() < 20,
            "shared lines keep the parts few: {}",
            parts.len()
        );
        let mut counted = 0;
        for (n, part) in parts.iter().enumerate() {
            assert!(part.title.starts_with(&format!(
                "PrivateLink connections ({}/{}): ",
                n + 1,
                parts.len()
            )));
            assert_eq!(part.thread_id, summary.thread_id);
            let records: Vec<Value> =
                serde_json::from_str(part.context.get(Fact::Decisions).unwrap()).unwrap();
            counted += records.len();
        }
        assert_eq!(counted, 1000, "every record in exactly one part");
        for n in &all {
            assert!(
                n.description.len() <= DESCRIPTION_LIMIT,
                "{}",
                n.description.len()
            );
            assert!(n.to_chatbot().to_string().len() < 256 * 1024);
        }
        for i in &items {
            let member = &i.brief.as_ref().unwrap().member;
            let holders = parts
                .iter()
                .filter(|p| p.description.contains(member.as_str()))
                .count();
            assert_eq!(holders, 1, "{member}");
        }
        let ids: std::collections::BTreeSet<&str> = all.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids.len(), all.len(), "every message has its own id");
    }

    #[test]
    fn a_summary_of_many_groups_says_how_many_it_leaves_out() {
        let items: Vec<Item> = (0..400)
            .map(|n| item(n, "accepted", &format!("vpce-svc-{n:017x}")))
            .collect();
        let all = digest(items, false).notifications();
        assert!(all[0].description.len() <= DESCRIPTION_LIMIT);
        assert!(
            all[0].description.contains("more\n"),
            "{}",
            all[0].description
        );
    }

    #[test]
    fn lines_fill_parts_up_to_the_limit_and_an_oversized_line_stands_alone() {
        let d = digest([], false);
        let item = item(1, "held", "g");
        let line = |len: usize| Line {
            text: "x".repeat(len),
            items: vec![&item],
        };
        let sizes = |lines| parts(lines).iter().map(|p| p.len()).collect::<Vec<_>>();
        assert_eq!(sizes(vec![line(1400), line(1400), line(1400)]), [2, 1]);
        assert_eq!(sizes(vec![line(10), line(5000), line(10)]), [1, 1, 1]);
        assert!(d.shared_lines().is_empty());
    }
}
