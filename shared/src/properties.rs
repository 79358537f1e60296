//! Properties of the decisions, over generated policies, rules, connections and VPCs: what must
//! hold whatever the input, not only for the examples the other tests pick. Small alphabets
//! (three accounts, three VPCs, two tag keys) make the generated inputs collide and overlap.

use proptest::prelude::*;
use std::collections::BTreeMap;

const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const VPCS: [&str; 3] = ["vpc-0a", "vpc-0b", "vpc-0c"];
const KEYS: [&str; 2] = ["team", "env"];
const VALUES: [&str; 2] = ["a", "b"];

fn pick<T: Clone + std::fmt::Debug + 'static>(from: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(from)
}

fn accounts(min: usize) -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(ACCOUNTS.as_slice(), min..=3)
        .prop_map(|a| a.into_iter().map(String::from).collect())
}

fn tags() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        pick(&KEYS).prop_map(String::from),
        pick(&VALUES).prop_map(String::from),
        0..=2,
    )
}

#[cfg(feature = "endpoint-connections")]
mod connections {
    use super::*;
    use crate::endpoint_connections::events::Scope;
    use crate::endpoint_connections::fakes::{FakeConnections, FakeConsumers, MemoryOfConnections};
    use crate::endpoint_connections::policy::{Action, Connection, Policy, Tags, decide};
    use crate::endpoint_connections::run::Acceptor;
    use crate::fakes::{MemoryLedger, MemoryPublisher};
    use serde_json::{Value, json};

    const SERVICES: [&str; 2] = ["vpce-svc-0a", "vpce-svc-0b"];

    fn rule() -> impl Strategy<Value = Value> {
        (
            accounts(1),
            prop::sample::subsequence(VPCS.as_slice(), 0..=2),
            tags(),
        )
            .prop_map(|(accounts, vpcs, tags)| {
                json!({ "accounts": accounts, "vpcs": vpcs, "tags": tags })
            })
    }

    /// A policy document for one or both services (a third service is never managed).
    fn policy() -> impl Strategy<Value = Value> {
        prop::collection::btree_map(
            pick(&SERVICES),
            (
                prop::collection::vec(rule(), 0..=3),
                prop::bool::ANY.prop_map(|hold| if hold { "hold" } else { "reject" }),
            ),
            1..=2,
        )
        .prop_map(|services| {
            let services: serde_json::Map<String, Value> = services
                .into_iter()
                .map(|(id, (allow, otherwise))| {
                    (id.into(), json!({ "allow": allow, "otherwise": otherwise }))
                })
                .collect();
            json!({ "version": 1, "services": services })
        })
    }

    fn known_tags() -> impl Strategy<Value = Tags> {
        prop_oneof![
            Just(Tags::Unknown),
            tags().prop_map(Tags::Partial),
            tags().prop_map(Tags::Complete),
        ]
    }

    /// Pending connections with distinct endpoint ids, to managed and unmanaged services.
    fn pending() -> impl Strategy<Value = Vec<Connection>> {
        prop::collection::vec(
            (
                prop::sample::select(&["vpce-svc-0a", "vpce-svc-0b", "vpce-svc-0z"][..]),
                pick(&ACCOUNTS),
                prop::option::of(pick(&VPCS)),
                known_tags(),
            ),
            0..12,
        )
        .prop_map(|cs| {
            cs.into_iter()
                .enumerate()
                .map(|(i, (service, owner, vpc, tags))| Connection {
                    service_id: service.into(),
                    endpoint_id: format!("vpce-{i:04}"),
                    owner: owner.into(),
                    state: "pendingAcceptance".into(),
                    vpc_id: vpc.map(String::from),
                    tags,
                })
                .collect()
        })
    }

    /// The written policy, read independently of `decide`: some rule of the connection's
    /// service lists its account, its VPC (known) when VPCs are given, and every tag it asks
    /// for (known to be there).
    fn allows(policy: &Value, c: &Connection) -> bool {
        let Some(rules) = policy["services"][&c.service_id]["allow"].as_array() else {
            return false;
        };
        rules.iter().any(|r| {
            let listed = |field: &str, v: &str| r[field].as_array().unwrap().iter().any(|x| x == v);
            let vpcs_ok = r["vpcs"].as_array().unwrap().is_empty()
                || c.vpc_id.as_deref().is_some_and(|v| listed("vpcs", v));
            let tags_ok = r["tags"].as_object().unwrap().iter().all(|(k, v)| {
                let have = match &c.tags {
                    Tags::Complete(t) | Tags::Partial(t) => t.get(k),
                    Tags::Unknown => None,
                };
                have.is_some_and(|h| v == h.as_str())
            });
            listed("accounts", &c.owner) && vpcs_ok && tags_ok
        })
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Nothing the policy does not allow is accepted; nothing it allows is rejected; a
        /// connection of a service the policy does not name gets no decision.
        #[test]
        fn only_what_the_policy_allows_is_accepted(doc in policy(), pending in pending()) {
            let policy = Policy::parse(&doc.to_string()).unwrap();
            let decisions = decide(&policy, &pending);
            for d in &decisions {
                let allowed = allows(&doc, &d.connection);
                match d.action {
                    Action::Accept => prop_assert!(allowed, "accepted without a rule: {d:?}"),
                    Action::Reject => prop_assert!(!allowed, "rejected though allowed: {d:?}"),
                    Action::Hold => prop_assert!(!allowed, "held though allowed: {d:?}"),
                }
            }
            let managed = pending.iter().filter(|c| policy.service(&c.service_id).is_some()).count();
            prop_assert_eq!(decisions.len(), managed);
            prop_assert!(decisions.iter().all(|d| d.connection.service_id != "vpce-svc-0z"));
        }

        /// Each connection's decision and reason are the same whatever order the connections
        /// come in.
        #[test]
        fn decisions_do_not_depend_on_the_order_of_the_input(
            doc in policy(),
            pending in pending(),
            seed in any::<u64>(),
        ) {
            let policy = Policy::parse(&doc.to_string()).unwrap();
            let mut shuffled = pending.clone();
            // A deterministic shuffle from the seed.
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let by_endpoint = |ds: Vec<crate::endpoint_connections::policy::Decision>| {
                ds.into_iter()
                    .map(|d| (d.connection.endpoint_id.clone(), (d.action, d.reason)))
                    .collect::<BTreeMap<_, _>>()
            };
            prop_assert_eq!(
                by_endpoint(decide(&policy, &pending)),
                by_endpoint(decide(&policy, &shuffled))
            );
        }

        /// The whole run, twice on the same estate: the second changes nothing and announces
        /// nothing new, and what the first accepted the policy allows.
        #[test]
        fn applying_twice_equals_applying_once(doc in policy(), pending in pending()) {
            let policy = Policy::parse(&doc.to_string()).unwrap();
            let acceptor = Acceptor {
                connections: FakeConnections::with(pending.clone()),
                ledger: MemoryLedger::default(),
                memory: MemoryOfConnections::default(),
                publisher: MemoryPublisher::default(),
                consumers: None::<FakeConsumers>,
                dry_run: false,
            };
            let rt = runtime();
            rt.block_on(acceptor.run(Ok(policy.clone()), Scope::All)).unwrap();
            let states = |a: &Acceptor<FakeConnections, MemoryLedger, MemoryOfConnections, MemoryPublisher, Option<FakeConsumers>>| {
                a.connections.connections.lock().unwrap().values()
                    .map(|c| (c.endpoint_id.clone(), c.state.clone()))
                    .collect::<BTreeMap<_, _>>()
            };
            let once = states(&acceptor);
            let calls = acceptor.connections.calls.lock().unwrap().len();
            let published = acceptor.publisher.titles().len();
            for c in &pending {
                if once[&c.endpoint_id] == "pending" {
                    prop_assert!(allows(&doc, c), "accepted without a rule: {c:?}");
                }
            }
            rt.block_on(acceptor.run(Ok(policy), Scope::All)).unwrap();
            prop_assert_eq!(states(&acceptor), once);
            prop_assert_eq!(acceptor.connections.calls.lock().unwrap().len(), calls, "the second run changed something");
            prop_assert_eq!(acceptor.publisher.titles().len(), published, "the second run announced again");
        }
    }
}

#[cfg(feature = "private-zones")]
mod zones {
    use super::*;
    use crate::private_zones::rules::{Change, Rules, Vpc, Zone, plan};
    use serde_json::{Value, json};
    use std::collections::BTreeSet;

    const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
    const ZONES: [&str; 3] = ["Z0A", "Z0B", "Z0C"];

    /// A rule over the document's own accounts and regions (as validation requires), naming
    /// zones, zone tags or both.
    fn rule(accounts: Vec<String>, regions: Vec<String>) -> impl Strategy<Value = Value> {
        let n = (accounts.len(), regions.len());
        (
            prop::sample::subsequence(ZONES.as_slice(), 0..=2),
            tags(),
            prop::sample::subsequence(accounts, 0..=n.0),
            prop::sample::subsequence(regions, 0..=n.1),
            tags(),
            prop::sample::subsequence(ZONES.as_slice(), 1..=2),
        )
            .prop_filter("a rule names zones or zone tags", |(z, zt, ..)| {
                !z.is_empty() || !zt.is_empty()
            })
            .prop_map(|(zones, zone_tags, accounts, regions, vpc_tags, named)| {
                // Tagged zones must lie under the rule's domains: some zones' own names.
                let domains: Vec<String> = if zone_tags.is_empty() {
                    vec![]
                } else {
                    named
                        .iter()
                        .map(|z| format!("{}.internal", z.to_lowercase()))
                        .collect()
                };
                json!({ "zones": zones, "zone_tags": zone_tags, "domains": domains,
                        "accounts": accounts, "regions": regions, "vpc_tags": vpc_tags })
            })
    }

    fn rules() -> impl Strategy<Value = Value> {
        (
            accounts(1),
            prop::sample::subsequence(REGIONS.as_slice(), 1..=2)
                .prop_map(|r| r.into_iter().map(String::from).collect::<Vec<_>>()),
        )
            .prop_flat_map(|(accounts, regions)| {
                (
                    Just(accounts.clone()),
                    Just(regions.clone()),
                    prop::collection::vec(rule(accounts, regions), 0..=3),
                    prop::option::of((pick(&VALUES), prop::bool::ANY)),
                )
            })
            .prop_map(|(accounts, regions, rules, opt_out)| {
                let mut doc = json!({ "version": 1, "accounts": accounts, "regions": regions, "rules": rules });
                if let Some((value, disassociate)) = opt_out {
                    doc["opt_out"] = json!({ "tag": "autopilot", "value": value, "disassociate": disassociate });
                }
                doc
            })
    }

    fn vpc() -> impl Strategy<Value = Vpc> {
        (
            pick(&ACCOUNTS),
            pick(&REGIONS),
            pick(&VPCS),
            tags(),
            prop::option::of(pick(&VALUES)),
        )
            .prop_map(|(account, region, id, mut tags, opt)| {
                if let Some(v) = opt {
                    tags.insert("autopilot".into(), v.into());
                }
                Vpc {
                    account: account.into(),
                    region: region.into(),
                    vpc_id: id.into(),
                    tags,
                }
            })
    }

    fn zones() -> impl Strategy<Value = Vec<Zone>> {
        prop::collection::vec(
            (
                tags(),
                prop::collection::btree_set((pick(&VPCS), pick(&REGIONS)), 0..=3),
            ),
            3,
        )
        .prop_map(|zs| {
            zs.into_iter()
                .zip(ZONES)
                .map(|((tags, vpcs), id)| Zone {
                    id: id.into(),
                    name: format!("{}.internal.", id.to_lowercase()),
                    tags,
                    vpcs: vpcs
                        .into_iter()
                        .map(|(v, r)| (v.into(), r.into()))
                        .collect(),
                })
                .collect()
        })
    }

    /// The rules, read independently of `plan`: zones some rule gives this VPC.
    fn given(doc: &Value, vpc: &Vpc, zones: &[Zone]) -> BTreeSet<String> {
        let has = |x: &Value, v: &str| x.as_array().unwrap().iter().any(|e| e == v);
        let tags_ok = |want: &Value, have: &BTreeMap<String, String>| {
            want.as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| have.get(k).is_some_and(|h| v == h.as_str()))
        };
        if !has(&doc["accounts"], &vpc.account) || !has(&doc["regions"], &vpc.region) {
            return BTreeSet::new();
        }
        let mut out = BTreeSet::new();
        for r in doc["rules"].as_array().unwrap() {
            let account_ok =
                r["accounts"].as_array().unwrap().is_empty() || has(&r["accounts"], &vpc.account);
            let region_ok =
                r["regions"].as_array().unwrap().is_empty() || has(&r["regions"], &vpc.region);
            if !(account_ok && region_ok && tags_ok(&r["vpc_tags"], &vpc.tags)) {
                continue;
            }
            for z in zones {
                let by_tag = !r["zone_tags"].as_object().unwrap().is_empty()
                    && tags_ok(&r["zone_tags"], &z.tags)
                    && has(&r["domains"], z.name.trim_end_matches('.'));
                if has(&r["zones"], &z.id) || by_tag {
                    out.insert(z.id.clone());
                }
            }
        }
        out
    }

    fn apply(zones: &mut [Zone], vpc: &Vpc, steps: &[crate::private_zones::rules::Step]) {
        let pair = (vpc.vpc_id.clone(), vpc.region.clone());
        for s in steps {
            let zone = zones.iter_mut().find(|z| z.id == s.zone_id).unwrap();
            match s.change {
                Change::Associate => {
                    zone.vpcs.insert(pair.clone());
                }
                Change::Disassociate => {
                    zone.vpcs.remove(&pair);
                }
                Change::Deauthorize => {}
            }
        }
    }

    #[test]
    fn generated_rules_are_valid() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let valid = (0..1000)
            .filter(|_| {
                let doc = rules().new_tree(&mut runner).unwrap().current();
                Rules::parse(&doc.to_string()).is_ok()
            })
            .count();
        assert_eq!(
            valid, 1000,
            "the generator makes documents the validator accepts"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// No VPC gets a zone the rules do not give it (none outside the trusted accounts and
        /// regions, none opted out); nothing is removed unless the opt-out says so, and never a
        /// zone's last VPC; a VPC's plan applied, then planned again, asks for nothing.
        #[test]
        fn zones_go_only_where_the_rules_say(doc in rules(), vpc in vpc(), zones in zones()) {
            let rules = Rules::parse(&doc.to_string()).unwrap();
            let steps = plan(&rules, &vpc, &zones);
            let wanted = given(&doc, &vpc, &zones);
            let opted_out = doc["opt_out"]["value"].as_str().is_some_and(|v| vpc.tags.get("autopilot").is_some_and(|t| t == v));
            let pair = (vpc.vpc_id.clone(), vpc.region.clone());
            for s in &steps {
                let zone = zones.iter().find(|z| z.id == s.zone_id).unwrap();
                prop_assert!(wanted.contains(&s.zone_id), "a step for a zone no rule gives: {s:?}");
                match s.change {
                    Change::Associate => {
                        prop_assert!(!opted_out, "an opted-out VPC gets a zone: {s:?}");
                        prop_assert!(!zone.vpcs.contains(&pair), "associating what is associated: {s:?}");
                    }
                    Change::Disassociate => {
                        prop_assert!(opted_out && doc["opt_out"]["disassociate"] == true, "removed without the opt-out: {s:?}");
                        prop_assert!(zone.vpcs.contains(&pair) && zone.vpcs.len() > 1, "a zone's last VPC removed: {s:?}");
                    }
                    Change::Deauthorize => prop_assert!(false, "plan never deauthorizes: {s:?}"),
                }
            }
            if !opted_out {
                let missing: BTreeSet<String> = wanted.iter()
                    .filter(|id| !zones.iter().any(|z| &&z.id == id && z.vpcs.contains(&pair)))
                    .cloned().collect();
                let planned: BTreeSet<String> = steps.iter().map(|s| s.zone_id.clone()).collect();
                prop_assert_eq!(planned, missing, "every zone the rules give and the VPC lacks is planned");
            }
            let mut after = zones.clone();
            apply(&mut after, &vpc, &steps);
            prop_assert_eq!(plan(&rules, &vpc, &after), vec![], "planning again after applying asks for more");
        }
    }
}
