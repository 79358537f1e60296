//! `--stack NAME`: the configuration of a deployed stack, so an operator names the stack instead
//! of a dozen environment variables. The functions' own environment variables (every function of
//! the stack, as `GetFunctionConfiguration` shows them: the same names the CLI reads) and the
//! stack's outputs that no function carries (the failure queues). Set in the environment, a
//! variable still wins. Works alike for the SAM stack and the CDK construct's: the functions are
//! found by their resource type, not their logical ids.

use crate::Failure;
use aws_config::SdkConfig;
use std::collections::HashMap;

/// Outputs read as variables of the CLI's: `autopilot status` reads the queues from them.
const OUTPUTS: [(&str, &str); 2] = [
    ("FailedInvocationsQueueUrl", "FAILED_INVOCATIONS_QUEUE_URL"),
    ("SlackDeadLettersQueueUrl", "SLACK_DEAD_LETTERS_QUEUE_URL"),
];

pub async fn variables(sdk: &SdkConfig, stack: &str) -> Result<HashMap<String, String>, Failure> {
    let cloudformation = aws_sdk_cloudformation::Client::new(sdk);
    let lambda = aws_sdk_lambda::Client::new(sdk);
    let described = cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            Failure(format!(
                "stack {stack}: {}",
                autopilot::Error::aws("cloudformation:DescribeStacks", e)
            ))
        })?;
    let mut vars = HashMap::new();
    for output in described
        .stacks()
        .first()
        .map(|s| s.outputs())
        .unwrap_or_default()
    {
        // A construct's outputs carry its path before the name and a hash after it.
        let key = output.output_key().unwrap_or_default();
        if let Some((_, var)) = OUTPUTS
            .iter()
            .find(|(name, _)| key == *name || stripped(key, name))
        {
            if let Some(value) = output.output_value() {
                vars.insert((*var).to_owned(), value.to_owned());
            }
        }
    }
    let mut functions = Vec::new();
    let mut pages = cloudformation
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            Failure(format!(
                "stack {stack}: {}",
                autopilot::Error::aws("cloudformation:ListStackResources", e)
            ))
        })?;
        for resource in page.stack_resource_summaries() {
            if resource.resource_type() == Some("AWS::Lambda::Function") {
                if let Some(name) = resource.physical_resource_id() {
                    functions.push(name.to_owned());
                }
            }
        }
    }
    if functions.is_empty() {
        return Err(Failure(format!(
            "stack {stack} has no Lambda function: is it a privatelink-autopilot hub stack?"
        )));
    }
    // One at a time: Lambda's control-plane rate is the account's, shared with every other client.
    for function in functions {
        let configuration = lambda
            .get_function_configuration()
            .function_name(&function)
            .send()
            .await
            .map_err(|e| {
                Failure(format!(
                    "function {function}: {}",
                    autopilot::Error::aws("lambda:GetFunctionConfiguration", e)
                ))
            })?;
        if let Some(env) = configuration.environment().and_then(|e| e.variables()) {
            for (k, v) in env {
                vars.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    Ok(vars)
}

/// `HubFailedInvocationsQueueUrl1A2B3C4D` is the construct's `FailedInvocationsQueueUrl`.
fn stripped(key: &str, name: &str) -> bool {
    key.find(name).is_some_and(|at| {
        let rest = &key[at + name.len()..];
        rest.is_empty() || (rest.len() == 8 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

#[cfg(test)]
mod tests {
    use super::stripped;

    #[test]
    fn a_constructs_output_is_known_by_its_name_within_its_id() {
        assert!(stripped(
            "HubFailedInvocationsQueueUrl1A2B3C4D",
            "FailedInvocationsQueueUrl"
        ));
        assert!(stripped(
            "FailedInvocationsQueueUrl",
            "FailedInvocationsQueueUrl"
        ));
        assert!(!stripped(
            "FailedInvocationsQueueUrlOld",
            "FailedInvocationsQueueUrl"
        ));
    }
}
