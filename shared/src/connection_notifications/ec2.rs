//! The EC2 adapter of [`NotificationApi`]: `ec2:DescribeVpcEndpointConnectionNotifications`,
//! `CreateVpcEndpointConnectionNotification`, `DeleteVpcEndpointConnectionNotifications`.

use super::ports::{Notification, NotificationApi};
use crate::error::{Error, ItemFailure, Result, unsuccessful};
use std::collections::BTreeSet;

pub struct Ec2Notifications {
    client: aws_sdk_ec2::Client,
}

impl Ec2Notifications {
    pub fn new(client: aws_sdk_ec2::Client) -> Self {
        Ec2Notifications { client }
    }
}

impl NotificationApi for Ec2Notifications {
    async fn list(&self, topic_arn: &str) -> Result<Vec<Notification>> {
        let filter = crate::aws::ec2_filter("connection-notification-arn", [topic_arn]);
        let mut pages = self
            .client
            .describe_vpc_endpoint_connection_notifications()
            .filters(filter)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| Error::aws("ec2:DescribeVpcEndpointConnectionNotifications", e))?;
            for n in page.connection_notification_set() {
                // The filter is the API's; the check keeps a kinder server from widening it.
                if n.connection_notification_arn() != Some(topic_arn) {
                    continue;
                }
                let Some(id) = n.connection_notification_id() else {
                    continue;
                };
                found.push(Notification {
                    id: id.to_owned(),
                    service_id: n.service_id().map(str::to_owned),
                    events: n.connection_events().iter().cloned().collect(),
                });
            }
        }
        Ok(found)
    }

    async fn create(
        &self,
        service_id: &str,
        topic_arn: &str,
        events: &BTreeSet<String>,
        client_token: &str,
    ) -> Result<String> {
        let created = self
            .client
            .create_vpc_endpoint_connection_notification()
            .service_id(service_id)
            .connection_notification_arn(topic_arn)
            .set_connection_events(Some(events.iter().cloned().collect()))
            .client_token(client_token)
            .send()
            .await
            .map_err(|e| Error::aws("ec2:CreateVpcEndpointConnectionNotification", e))?;
        Ok(created
            .connection_notification()
            .and_then(|n| n.connection_notification_id())
            .unwrap_or_default()
            .to_owned())
    }

    async fn delete(&self, ids: &[String]) -> Result<Vec<ItemFailure>> {
        let answer = self
            .client
            .delete_vpc_endpoint_connection_notifications()
            .set_connection_notification_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| Error::aws("ec2:DeleteVpcEndpointConnectionNotifications", e))?;
        Ok(unsuccessful(answer.unsuccessful()))
    }
}
