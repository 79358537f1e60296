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

use super::{Notification, Severity};
use crate::ids::fnv1a;
use serde_json::Value;
use std::collections::BTreeMap;

/// The longest description a message carries (Slack's section text).
pub const DESCRIPTION_LIMIT: usize = 3000;
/// At most this many resources and records per message, so the metadata stays small too.
pub const ITEMS_PER_PART: usize = 40;

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
    /// The resources it is about, for `relatedResources`.
    pub resources: Vec<String>,
    /// Its structured form, listed under the digest's records fact.
    pub record: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Digest {
    event_type: String,
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
    single_facts: Vec<(String, String)>,
    records_fact: Option<&'static str>,
}

impl Digest {
    pub fn new(
        event_type: &str,
        subject: &str,
        id_prefix: &str,
        keywords: &[&str],
        dry_run: bool,
    ) -> Self {
        Digest {
            event_type: event_type.into(),
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
    pub fn single_facts(&mut self, facts: impl IntoIterator<Item = (String, String)>) {
        self.single_facts = facts.into_iter().collect();
    }

    /// List the items' records, as one JSON array, under this fact.
    pub fn records_under(&mut self, fact: &'static str) {
        self.records_fact = Some(fact);
    }

    /// "2 accepted, 1 held"
    pub fn tally(items: &[Item]) -> String {
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

    fn id(&self, items: &[Item]) -> String {
        let keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
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
        let parts = parts(&self.items);
        let tally = Self::tally(&self.items);
        let mut first = self.message(
            self.id(&self.items),
            format!("{}{}: {tally}", self.prefix(), self.subject),
            tally.clone(),
        );
        first.next_steps.clone_from(&self.next_steps);
        if let [only] = parts.as_slice() {
            self.fill(&mut first, only);
            if let [_] = only {
                first.context.extend(self.single_facts.iter().cloned());
            }
            return vec![first];
        }
        first.description = self.summary(parts.len());
        first.related_resources =
            unique(self.items.iter().map(|i| i.group.clone()), ITEMS_PER_PART);
        let total = parts.len();
        let mut out = vec![first];
        for (n, part) in parts.iter().enumerate() {
            let tally = Self::tally(part);
            let mut message = self.message(
                self.id(part),
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
                .insert("part".into(), format!("{}/{total}", n + 1));
            self.fill(&mut message, part);
            out.push(message);
        }
        out
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
            context: BTreeMap::from([Notification::dry_run_fact(self.dry_run)]),
        }
    }

    /// The description, resources and records of the items one message lists.
    fn fill(&self, message: &mut Notification, items: &[Item]) {
        message.description = items
            .iter()
            .map(|i| bullet(&i.line))
            .collect::<Vec<_>>()
            .join("\n");
        message.related_resources = unique(
            items
                .iter()
                .map(|i| i.group.clone())
                .chain(items.iter().flat_map(|i| i.resources.iter().cloned())),
            2 * ITEMS_PER_PART,
        );
        if let Some(fact) = self.records_fact {
            let records: Vec<&Value> = items.iter().filter_map(|i| i.record.as_ref()).collect();
            message.context.insert(
                fact.to_owned(),
                serde_json::to_string(&records).unwrap_or_default(),
            );
        }
    }

    /// Counts per group and change, as many groups as fit; then where the full list is.
    fn summary(&self, parts: usize) -> String {
        let mut groups: BTreeMap<&str, Vec<Item>> = BTreeMap::new();
        for item in &self.items {
            groups
                .entry(item.group.as_str())
                .or_default()
                .push(item.clone());
        }
        let closing = format!(
            "Every change is listed in the {parts} messages that follow (in the same thread)."
        );
        let mut lines: Vec<String> = Vec::new();
        let mut used = closing.len();
        for (shown, (group, items)) in groups.iter().enumerate() {
            let line = bullet(&format!("`{group}`: {}", Self::tally(items)));
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

/// The items in consecutive parts whose descriptions fit [`DESCRIPTION_LIMIT`] and hold at most
/// [`ITEMS_PER_PART`] items. A line longer than the limit on its own is a part of its own (the
/// Slack renderer then cuts it, marked).
fn parts(items: &[Item]) -> Vec<&[Item]> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let len = bullet(&item.line).len() + usize::from(i > start);
        if i > start && (size + len > DESCRIPTION_LIMIT || i - start == ITEMS_PER_PART) {
            out.push(&items[start..i]);
            (start, size) = (i, bullet(&item.line).len());
        } else {
            size += len;
        }
    }
    out.push(&items[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: usize, verb: &str, group: &str) -> Item {
        Item {
            key: format!("k:{n}"),
            verb: verb.into(),
            group: group.into(),
            line: format!(
                "*{verb}* `vpce-{n:017x}` from account `111111111111` to `{group}`: allowed by rule orders"
            ),
            resources: vec![format!("vpce-{n:017x}")],
            record: Some(serde_json::json!({"endpoint": format!("vpce-{n:017x}")})),
        }
    }

    fn digest(items: impl IntoIterator<Item = Item>, dry_run: bool) -> Digest {
        let mut d = Digest::new(
            "EndpointConnectionDecisions",
            "PrivateLink connections",
            "connections",
            &["privatelink"],
            dry_run,
        );
        d.records_under("decisions");
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
                .starts_with("• *accepted* `vpce-00000000000000001`")
        );
        assert_eq!(n.next_steps, ["Look."]);
        assert_eq!(n.context["dry_run"], "false");
        assert_eq!(n.related_resources[0], "vpce-svc-a");
        assert_eq!(n.id, d.id(d.items()));
        assert!(digest([], false).notifications().is_empty());
    }

    #[test]
    fn a_dry_run_says_so_and_one_change_keeps_its_facts() {
        let mut d = digest([item(1, "would accept", "vpce-svc-a")], true);
        d.single_facts([("account".to_owned(), "111111111111".to_owned())]);
        let [n] = d.notifications().try_into().unwrap();
        assert_eq!(n.title, "[dry run] PrivateLink connections: 1 would accept");
        assert_eq!(n.summary, "[dry run] 1 would accept");
        assert_eq!(
            (n.dry_run(), n.context["account"].as_str()),
            (true, "111111111111")
        );
    }

    /// A thousand decisions: a summary within the limits, then parts that list every change whole.
    #[test]
    fn a_large_batch_is_a_summary_and_bounded_parts_listing_every_change() {
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
        for (n, part) in parts.iter().enumerate() {
            assert!(part.title.starts_with(&format!(
                "PrivateLink connections ({}/{}): ",
                n + 1,
                parts.len()
            )));
            assert_eq!(part.thread_id, summary.thread_id);
        }
        for n in &all {
            assert!(
                n.description.len() <= DESCRIPTION_LIMIT,
                "{}",
                n.description.len()
            );
            assert!(n.to_chatbot().to_string().len() < 256 * 1024);
        }
        for i in &items {
            let line = bullet(&i.line);
            let holders = parts
                .iter()
                .filter(|p| p.description.lines().any(|l| l == line))
                .count();
            assert_eq!(holders, 1, "{line}");
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
    fn parts_split_on_size_and_count() {
        let long = |n| Item {
            line: "x".repeat(1400),
            ..item(n, "held", "g")
        };
        let items = [long(1), long(2), long(3), long(4)];
        assert_eq!(
            parts(&items).iter().map(|p| p.len()).collect::<Vec<_>>(),
            [2, 2]
        );
        let many: Vec<Item> = (0..85)
            .map(|n| Item {
                line: "y".into(),
                ..item(n, "held", "g")
            })
            .collect();
        assert_eq!(
            parts(&many).iter().map(|p| p.len()).collect::<Vec<_>>(),
            [40, 40, 5]
        );
    }
}
