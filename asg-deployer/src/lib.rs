//! asg-deploy: blue/green rollout of an EC2 Auto Scaling group behind HTTPS, through CloudFormation.
//!
//! Data flows one way, and the folders follow it: [`cli`] (raw flags) -> [`config`] (checked
//! settings, with the stock images and the fetch shipped with a build) -> [`template`] (templates,
//! boot assets and parameters) -> [`commands`] (`create`, `update`, `rollback`, `history`, `delete`, `plan`, `status`, `check`,
//! and their shared steps: the config bucket, the subnets' way out) -> [`watch`] (live stack
//! events, then the fleet's health) -> [`exit_code`]. Beneath them, [`aws`]: the clients and the
//! reading of stacks. Beside the flow: [`session`] (what one invocation carries), [`progress`]
//! (output) and [`error`] (the one error type).

pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod exit_code;
pub mod progress;
pub mod session;
pub mod template;
pub mod watch;

use tokio_util::sync::CancellationToken;

use crate::aws::Clients;
use crate::cli::Command;
use crate::commands::{check, history, plan, rollback, rollout, status};
use crate::config::Config;
use crate::config::image::BaseImage;
use crate::error::Error;
use crate::progress::Display;
use crate::session::Session;
use crate::template::Resolved;

/// Runs one command. `clients` is `None` only for `render`, which never calls AWS; `shutdown`
/// is cancelled by Ctrl-C and stops the watching, never the deployment.
pub async fn run(
    config: &Config,
    clients: Option<&Clients>,
    display: &Display,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    if let Command::Render {
        diagram,
        deploy_role,
    } = config.command
    {
        if diagram {
            display.line(template::diagram::diagram()?.trim_end());
            return Ok(());
        }
        if deploy_role {
            display.line(template::deploy_role::DEPLOY_ROLE_TEMPLATE.trim_end());
            return Ok(());
        }
        return render(config, display);
    }
    let clients = clients.ok_or_else(|| Error::MissingCredentials("no AWS clients".into()))?;
    let session = Session::new(clients, &config.target, display, shutdown);
    let deploy = config.deploy.as_ref();
    match (config.command, deploy) {
        (Command::Create, Some(d)) => rollout::create(&session, d).await,
        (Command::Update, Some(d)) => rollout::update(&session, d).await,
        (Command::Plan, Some(d)) => plan::plan(&session, d).await,
        (Command::Status { watch }, _) => status::show(&session, watch).await,
        (
            Command::Check {
                max_drift,
                cert_days,
                json,
            },
            _,
        ) => {
            let limits = check::Limits {
                max_drift,
                cert_days,
            };
            check::run(&session, limits, json).await
        }
        (Command::History { json }, _) => history::show(&session, json).await,
        (Command::Rollback { to }, _) => rollback::rollback(&session, to).await,
        (Command::Delete, _) => rollout::delete(&session).await,
        _ => Err(Error::Invalid(vec![
            "this command needs the deployment settings".into(),
        ])),
    }
}

/// Prints the template and parameters; what AWS alone can tell is shown as a placeholder.
fn render(config: &Config, display: &Display) -> Result<(), Error> {
    let deploy = config
        .deploy
        .as_ref()
        .ok_or_else(|| Error::Invalid(vec!["render needs the deployment settings".into()]))?;
    let fetch = deploy
        .fetch
        .install(deploy.ami.is_some())
        .map_err(|why| Error::Invalid(vec![why]))?;
    let image = deploy.base_image.unwrap_or(BaseImage::Ubuntu2404);
    let resolved = Resolved {
        ami: deploy
            .ami
            .clone()
            .unwrap_or_else(|| format!("<{image} AMI, resolved from SSM at deploy time>")),
        root_device: "<root device of the AMI, resolved at deploy time>".into(),
        vpc_id: "<VPC of SUBNETS, resolved at deploy time>".into(),
        config_bucket: deploy
            .config_bucket
            .clone()
            .unwrap_or_else(|| format!("<bucket of stack {}>", config.target.bucket_stack_name())),
        fetch,
        notify_topic: deploy.notify.resolve(&[]),
        deletion_protection: deploy.deletion_protection.unwrap_or(true),
    };
    display.line(template::render(deploy, &resolved)?.trim_end());
    Ok(())
}
