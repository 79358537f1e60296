//! CloudTrail `detail` bodies, normalised.
//!
//! EC2 logs API calls in two shapes (see `events/README.md` and the real samples in `events/real`):
//! flat (`{"items":[…]}` lists, `{}` for empty) and wrapped (`{"XResponse":{"xmlns":…}}`, `item`
//! as object-or-list, `{"content":v,"tag":1}` scalars). [`normalize`] folds both into one plain
//! shape, and [`get`] looks keys up case-insensitively (requests are PascalCase in one shape and
//! camelCase in the other), so callers read one shape only.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// A CloudTrail record with its request and response normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub event_source: String,
    pub event_name: String,
    pub aws_region: Option<String>,
    pub event_id: Option<String>,
    /// Set when the call failed; the request and response then describe nothing that exists.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The caller's account (`userIdentity.accountId`).
    pub caller_account: Option<String>,
    /// The account that owns the resource (`recipientAccountId`, absent before version 1.08).
    pub recipient_account: Option<String>,
    pub request: Value,
    pub response: Value,
}

impl Record {
    pub fn from_detail(detail: &Value) -> Result<Self> {
        let obj = detail
            .as_object()
            .ok_or_else(|| Error::InvalidEvent("CloudTrail detail is not a JSON object".into()))?;
        let text = |key: &str| obj.get(key).and_then(scalar_string);
        let required = |key: &str| {
            text(key).ok_or_else(|| Error::InvalidEvent(format!("CloudTrail detail has no {key}")))
        };
        Ok(Record {
            event_source: required("eventSource")?,
            event_name: required("eventName")?,
            aws_region: text("awsRegion"),
            event_id: text("eventID"),
            error_code: text("errorCode"),
            error_message: text("errorMessage"),
            caller_account: obj
                .get("userIdentity")
                .and_then(|u| get(u, "accountId"))
                .and_then(scalar_string),
            recipient_account: text("recipientAccountId"),
            request: unwrap_shape(normalize(
                obj.get("requestParameters").unwrap_or(&Value::Null),
            )),
            response: unwrap_shape(normalize(
                obj.get("responseElements").unwrap_or(&Value::Null),
            )),
        })
    }

    pub fn failed(&self) -> bool {
        self.error_code.is_some()
    }
}

/// Fold EC2's two serialisations into one: lists are arrays, empty is `null`, scalars are scalars.
pub fn normalize(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::String(s) if s.is_empty() => Value::Null,
        Value::Object(map) => {
            // `{}` is EC2's empty set.
            if map.is_empty() {
                return Value::Null;
            }
            // `{"content": v, "tag": n}`: a repeated parameter sent once, with its position.
            if let Some(content) = map.get("content")
                && map.keys().all(|k| k == "content" || k == "tag")
            {
                return normalize(content);
            }
            // `{"items": [...]}` (flat) and `{"item": x-or-[x]}` (wrapped) are lists.
            if map.len() == 1
                && let Some(inner) = map.get("items").or_else(|| map.get("item"))
            {
                return match normalize(inner) {
                    Value::Null => Value::Array(vec![]),
                    Value::Array(items) => Value::Array(items),
                    one => Value::Array(vec![one]),
                };
            }
            let mut out = Map::new();
            for (k, v) in map {
                let positional_tag = k == "tag" && v.is_number();
                if k == "xmlns" || positional_tag {
                    continue;
                }
                out.insert(k.clone(), normalize(v));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Unwrap `{"CreateVpcEndpointResponse": {...}}`-style single-key wrappers (the key does not
/// always name the operation: `DelTGwVpcAttachReq`).
fn unwrap_shape(value: Value) -> Value {
    if let Value::Object(map) = &value
        && map.len() == 1
        && let Some((key, inner)) = map.iter().next()
        && inner.is_object()
        && ["Response", "Request", "Req"]
            .iter()
            .any(|s| key.ends_with(s))
    {
        return inner.clone();
    }
    value
}

/// Look a key up case-insensitively (`VpcId` and `vpcId` are the same field in the two shapes).
pub fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let map = value.as_object()?;
    map.get(key)
        .or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

/// Follow a path of keys, case-insensitively.
pub fn path<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(value, |v, k| get(v, k))
}

/// A string or number as text (`ownerId` is a number in some records and a string in others).
pub fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A normalised value as a list: arrays as they are, one value as a list of one, empty as none.
pub fn list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    }
}

/// The resource ids an EC2 tagging call names (`resourcesSet`, in either shape); refused past
/// [`crate::ids::MAX_IDS_PER_EVENT`], before any is read.
pub fn resource_ids(request: &Value) -> Result<Vec<String>, crate::error::Invalid> {
    let items = list(get(request, "resourcesSet"));
    if items.len() > crate::ids::MAX_IDS_PER_EVENT {
        return Err(crate::error::Invalid(format!(
            "the event names {} resources; EC2 tags at most 1,000 in one call",
            items.len()
        )));
    }
    Ok(items
        .into_iter()
        .filter_map(|item| get(item, "resourceId").and_then(scalar_string))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_and_wrapped_shapes_normalise_alike() {
        let flat =
            json!({"tagSet": {"items": [{"key": "a", "value": "1"}]}, "empty": {}, "ipv6": ""});
        let wrapped =
            json!({"tagSet": {"item": {"key": "a", "value": "1"}}, "empty": {}, "ipv6": ""});
        let expected = json!({"tagSet": [{"key": "a", "value": "1"}], "empty": null, "ipv6": null});
        assert_eq!(normalize(&flat), expected);
        assert_eq!(normalize(&wrapped), expected);
    }

    #[test]
    fn content_tag_scalars_and_position_markers_go() {
        let v = json!({"FlowLogId": {"content": "fl-1", "tag": 1},
                       "TagSpecification": {"ResourceType": "vpc", "tag": 1, "Tag": {"Key": "k", "Value": "v", "tag": 1}}});
        assert_eq!(
            normalize(&v),
            json!({"FlowLogId": "fl-1", "TagSpecification": {"ResourceType": "vpc", "Tag": {"Key": "k", "Value": "v"}}})
        );
    }

    #[test]
    fn wrapped_response_is_unwrapped_and_read_case_insensitively() {
        let detail = json!({
            "eventSource": "ec2.amazonaws.com", "eventName": "CreateVpcEndpoint",
            "requestParameters": {"CreateVpcEndpointRequest": {"VpcId": "vpc-1"}},
            "responseElements": {"CreateVpcEndpointResponse": {"xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
                                 "vpcEndpoint": {"vpcEndpointId": "vpce-1"}}}
        });
        let r = Record::from_detail(&detail).unwrap();
        assert_eq!(get(&r.request, "vpcId"), Some(&json!("vpc-1")));
        assert_eq!(
            path(&r.response, &["VpcEndpoint", "VpcEndpointId"]),
            Some(&json!("vpce-1"))
        );
        assert!(!r.failed());
    }

    #[test]
    fn missing_event_name_is_a_clear_error() {
        let err = Record::from_detail(&json!({"eventSource": "ec2.amazonaws.com"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid event: CloudTrail detail has no eventName"
        );
    }
}
