//! The config bucket: a small stack of its own (created on first use) holding, under
//! `builds/<BUILD_NUMBER>/`, the nginx site and systemd unit each fleet boots with.

use aws_sdk_cloudformation::types::{Capability, Parameter};
use aws_sdk_s3::primitives::ByteStream;

use crate::aws::Clients;
use crate::aws::stack;
use crate::config::fetch_binary::Install;
use crate::config::{Deploy, Target};
use crate::error::Error;
use crate::progress::Display;
use crate::session::Session;
use crate::template;
use crate::watch::events::{WatchEnd, Watcher};

/// The objects every build gets, with their content for the app `app_name`; the boot script
/// fetches exactly these.
pub fn build_files(app_name: &str) -> [(&'static str, String); 2] {
    [
        ("app.conf", template::NGINX_SITE.to_string()),
        ("app.service", systemd_unit(app_name)),
    ]
}

/// The repository's systemd unit for the app `app_name`. The unit calls the app `app` (its user
/// and group, `/var/www/app/app.jar`, its log and state directories, its log identifier), and the
/// boot script runs the unit only if it starts `/var/www/<APP_NAME>/<APP_NAME>.jar`: every `app`
/// that stands as a word becomes `app_name`.
pub fn systemd_unit(app_name: &str) -> String {
    let word = regex_lite::Regex::new(r"\bapp\b").expect("a valid pattern");
    word.replace_all(template::SYSTEMD_UNIT, regex_lite::NoExpand(app_name))
        .into_owned()
}

/// The key of `file` for `build`.
pub fn key(build: u64, file: &str) -> String {
    format!("builds/{build}/{file}")
}

/// The bucket's name if its stack exists and is usable.
pub async fn existing(clients: &Clients, target: &Target) -> Result<Option<String>, Error> {
    let name = target.bucket_stack_name();
    Ok(stack::describe(&clients.cfn, &name)
        .await?
        .and_then(|s| s.outputs.get("BucketName").cloned()))
}

/// Returns the config bucket, creating its stack first when there is none.
pub async fn ensure(session: &Session<'_>, deploy: &Deploy) -> Result<String, Error> {
    let Session {
        clients,
        target,
        display,
        ..
    } = session;
    let name = target.bucket_stack_name();
    let current = stack::describe(&clients.cfn, &name).await?;
    let bucket = match current {
        Some(s) if stack::is_success(&s.status) || stack::is_updatable(&s.status) => s
            .outputs
            .get("BucketName")
            .cloned()
            .ok_or_else(|| Error::Refused(format!("stack {name} has no BucketName output: delete it so asg-deploy can create the config bucket again")))?,
        Some(s) => {
            return Err(Error::Refused(format!(
                "config bucket stack {name} is in {}: wait for it, or delete it if it failed, then run again",
                s.status
            )));
        }
        None => create(session, &name, deploy.config_bucket.as_deref()).await?,
    };
    if let Some(wanted) = &deploy.config_bucket
        && wanted != &bucket
    {
        return Err(Error::Refused(format!(
            "CONFIG_BUCKET {wanted} differs from bucket {bucket} of stack {name}: unset CONFIG_BUCKET or set it to {bucket}"
        )));
    }
    display.line(format!("Config bucket {bucket} (stack {name})"));
    Ok(bucket)
}

async fn create(session: &Session<'_>, name: &str, bucket: Option<&str>) -> Result<String, Error> {
    let Session {
        clients, display, ..
    } = session;
    display.line(format!("Creating the config bucket stack {name}"));
    let body = template::compact(&template::bucket_template()?);
    let out = clients
        .cfn
        .create_stack()
        .stack_name(name)
        .template_body(body)
        .set_role_arn(session.target.stack_role_arn.clone())
        .parameters(
            Parameter::builder()
                .parameter_key("BucketName")
                .parameter_value(bucket.unwrap_or_default())
                .build(),
        )
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .map_err(|e| crate::error::aws("CreateStack (config bucket)", e))?;
    let id = out.stack_id().unwrap_or(name).to_string();
    let end = Watcher {
        cfn: &clients.cfn,
        stack: id.clone(),
        last_seen: None,
        deadline: session.deadline(),
        shutdown: session.shutdown.clone(),
        display,
        poll: session.poll,
        window: None,
    }
    .run()
    .await?;
    match end {
        WatchEnd::Finished { status, .. } if stack::is_success(&status) => {}
        WatchEnd::Finished { status, reasons } => {
            return Err(Error::StackFailed {
                stack: name.to_string(),
                status,
                reasons,
            });
        }
        WatchEnd::TimedOut { .. } => {
            return Err(Error::TimedOut {
                stack: name.to_string(),
                after: session.target.timeout,
                cancelled: false,
            });
        }
        WatchEnd::Interrupted => return Err(session.interrupted()),
    }
    existing(clients, session.target)
        .await?
        .ok_or_else(|| Error::Refused(format!("stack {name} has no BucketName output")))
}

/// Where the uploaded fetch binary goes; the boot script downloads it from there.
pub const FETCH_FILE: &str = "fetch";

/// Uploads this build's nginx site and systemd unit, and the fetch binary when the instances get
/// it from the bucket; returns the keys written.
pub async fn upload(
    clients: &Clients,
    bucket: &str,
    build: u64,
    app_name: &str,
    fetch: &Install,
    display: &Display,
) -> Result<Vec<String>, Error> {
    let mut keys = Vec::new();
    for (file, body) in build_files(app_name) {
        let key = key(build, file);
        clients
            .s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("text/plain; charset=utf-8")
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .map_err(|e| crate::error::aws(&format!("PutObject s3://{bucket}/{key}"), e))?;
        display.line(format!("Uploaded s3://{bucket}/{key}"));
        keys.push(key);
    }
    if let Install::Upload(binary) = fetch {
        let key = key(build, FETCH_FILE);
        let at = format!("s3://{bucket}/{key}");
        let body = ByteStream::from_path(&binary.path).await.map_err(|e| {
            Error::Refused(format!(
                "FETCH_BINARY {} cannot be read ({e}): check the file and run again",
                binary.path.display()
            ))
        })?;
        clients
            .s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/octet-stream")
            .checksum_sha256(base64_of_hex(&binary.sha256))
            .body(body)
            .send()
            .await
            .map_err(|e| crate::error::aws(&format!("PutObject {at}"), e))?;
        display.line(format!(
            "Uploaded {at} ({} fetch, {:.1} MB, sha256 {})",
            binary.arch,
            binary.len as f64 / 1e6,
            binary.sha256
        ));
        keys.push(key);
    }
    Ok(keys)
}

/// S3's form of a SHA-256 (base64 of the digest) from its hex form, so S3 checks the upload.
fn base64_of_hex(digest: &str) -> String {
    aws_smithy_types::base64::encode(hex::decode(digest).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_gets_the_digest_in_base64() {
        // SHA-256 of the empty string, as S3 names it.
        assert_eq!(
            base64_of_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn the_unit_runs_the_app_it_is_named_for() {
        assert_eq!(systemd_unit("app"), template::SYSTEMD_UNIT);
        let unit = systemd_unit("shop-2");
        for line in [
            "ExecStart=/usr/bin/java -jar /var/www/shop-2/shop-2.jar server",
            "User=shop-2",
            "Group=shop-2",
            "WorkingDirectory=/var/www/shop-2",
            "SyslogIdentifier=shop-2",
            "LogsDirectory=shop-2",
            "StateDirectory=shop-2",
        ] {
            assert!(unit.lines().any(|l| l == line), "{line} in\n{unit}");
        }
        assert!(unit.contains("Application server"), "other words stay");
        assert!(!unit.contains("/app") && !unit.contains("=app"), "{unit}");
    }
}
