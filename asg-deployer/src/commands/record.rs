//! The build history: every successful `create`, `update` and `rollback` records the build it
//! deployed in the config bucket, next to the build's boot files (`builds/<N>/deployment.json`,
//! with the template it was deployed with in `builds/<N>/template.json`), so that `history` can
//! list the builds and `rollback` can deploy one of them again.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aws::Clients;
use crate::aws::stack::StackInfo;
use crate::commands::config_bucket::key;
use crate::error::{Error, one_line};
use crate::template::user_data;

/// The record's file name under `builds/<N>/`.
pub const RECORD_FILE: &str = "deployment.json";
/// The template's file name under `builds/<N>/`.
pub const TEMPLATE_FILE: &str = "template.json";

/// What one build was deployed with. Nothing secret: parameters are names, ids and URLs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The build number.
    pub build: u64,
    /// The stack it was deployed to.
    pub stack: String,
    /// `create`, `update` or `rollback`.
    pub action: String,
    /// The build that was live before, for an update or a rollback.
    pub previous_build: Option<u64>,
    /// When it was deployed (RFC 3339, when the stack change ended).
    pub deployed_at: String,
    /// Who deployed it: the caller's ARN from STS, when STS answered.
    pub deployed_by: Option<String>,
    /// Every template parameter as the stack took it: AMI, instance type, artifact URL with its
    /// pin, sizes, scaling and the rest.
    pub parameters: BTreeMap<String, String>,
    /// SHA-256 of `template.json`, the template exactly as sent.
    pub template_sha256: String,
    /// SHA-256 of the user data the instances boot with (settings block and boot script).
    pub user_data_sha256: String,
    /// The build's files in the config bucket (keys), which its instances download at boot.
    pub files: Vec<String>,
}

/// What a successful deployment hands to [`save`].
pub struct Deployed<'a> {
    /// See [`Record::build`].
    pub build: u64,
    /// See [`Record::action`].
    pub action: &'a str,
    /// See [`Record::previous_build`].
    pub previous_build: Option<u64>,
    /// The template body as sent.
    pub template_body: &'a str,
    /// The parameters as the stack took them.
    pub parameters: &'a BTreeMap<String, String>,
    /// The boot script placed at the end of the user data.
    pub boot_script: &'a str,
    /// See [`Record::files`].
    pub files: Vec<String>,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes the template and the record of `deployed` to `bucket`.
pub async fn save(
    clients: &Clients,
    stack: &str,
    bucket: &str,
    deployed: Deployed<'_>,
    deployed_at: String,
) -> Result<Record, Error> {
    let deployed_by = match clients.sts.get_caller_identity().send().await {
        Ok(out) => out.arn().map(str::to_string),
        Err(_) => None,
    };
    let region = clients
        .cfn
        .config()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let user_data = user_data::rendered(stack, &region, deployed.parameters, deployed.boot_script);
    let record = Record {
        build: deployed.build,
        stack: stack.to_string(),
        action: deployed.action.to_string(),
        previous_build: deployed.previous_build,
        deployed_at,
        deployed_by,
        parameters: deployed.parameters.clone(),
        template_sha256: sha256(deployed.template_body.as_bytes()),
        user_data_sha256: sha256(user_data.as_bytes()),
        files: deployed.files,
    };
    put(
        clients,
        bucket,
        &key(record.build, TEMPLATE_FILE),
        deployed.template_body.as_bytes().to_vec(),
    )
    .await?;
    let body = serde_json::to_vec_pretty(&record).map_err(|e| Error::Template(e.to_string()))?;
    put(clients, bucket, &key(record.build, RECORD_FILE), body).await?;
    Ok(record)
}

async fn put(clients: &Clients, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), Error> {
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| crate::error::aws(&format!("PutObject s3://{bucket}/{key}"), e))?;
    Ok(())
}

/// The object at `key`, or `None` when the bucket has none.
pub async fn get(clients: &Clients, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
    match clients.s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let body = out.body.collect().await.map_err(|e| Error::Aws {
                action: format!("GetObject s3://{bucket}/{key}"),
                message: one_line(&e),
            })?;
            Ok(Some(body.into_bytes().to_vec()))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(crate::error::aws(
            &format!("GetObject s3://{bucket}/{key}"),
            e,
        )),
    }
}

/// Whether the bucket holds `key`.
pub async fn exists(clients: &Clients, bucket: &str, key: &str) -> Result<bool, Error> {
    match clients
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
        Err(e) => Err(crate::error::aws(
            &format!("HeadObject s3://{bucket}/{key}"),
            e,
        )),
    }
}

/// The record of `build`, or `None` when it has none.
pub async fn read(clients: &Clients, bucket: &str, build: u64) -> Result<Option<Record>, Error> {
    let at = key(build, RECORD_FILE);
    let Some(body) = get(clients, bucket, &at).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&body).map(Some).map_err(|e| {
        Error::Refused(format!(
            "s3://{bucket}/{at} is not a build record asg-deploy wrote ({e}): restore it from the bucket's versions or deploy that build again under a new BUILD_NUMBER"
        ))
    })
}

/// The config bucket of the application stack `info`, which holds its records.
pub fn bucket_of(info: &StackInfo) -> Result<String, Error> {
    info.parameters
        .get("ConfigBucket")
        .filter(|b| !b.is_empty())
        .cloned()
        .ok_or_else(|| {
            Error::Refused(format!(
                "stack {} names no config bucket, so it has no build history",
                info.name
            ))
        })
}

/// Every recorded build in `bucket`, newest (highest number) first.
pub async fn list(clients: &Clients, bucket: &str) -> Result<Vec<Record>, Error> {
    let mut builds = Vec::new();
    let mut pages = clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("builds/")
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| crate::error::aws(&format!("ListObjectsV2 s3://{bucket}"), e))?;
        builds.extend(page.common_prefixes().iter().filter_map(|p| {
            p.prefix()?
                .strip_prefix("builds/")?
                .trim_end_matches('/')
                .parse::<u64>()
                .ok()
        }));
    }
    builds.sort_unstable_by(|a, b| b.cmp(a));
    let mut records = Vec::new();
    for build in builds {
        if let Some(record) = read(clients, bucket, build).await? {
            records.push(record);
        }
    }
    Ok(records)
}
