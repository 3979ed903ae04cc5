//! The user data an instance boots with: a settings block, then the boot script, within EC2's
//! size limit. Apart from the templates and the settings, so `config` can check the size before
//! any AWS call without depending on `template`.

/// EC2 refuses user data above 16 KiB (before base64).
pub const USER_DATA_LIMIT: usize = 16 * 1024;

/// The boot script instances run, unless CLOUD_INIT_PATH names another.
pub const DEFAULT_BOOT_SCRIPT: &str = include_str!("../../../cloud-init/boot.sh");

/// The built-in boot script as the user data carries it: its comment lines emptied, which
/// leaves room under EC2's 16 KiB limit while line numbers in its error messages stay those of
/// `cloud-init/boot.sh` (which has no here-documents, whose text this would change).
pub fn default_boot_script() -> String {
    let mut lines = DEFAULT_BOOT_SCRIPT.split_inclusive('\n');
    let shebang = lines.next().unwrap_or_default();
    let body = lines.map(|line| {
        if line.trim_start().starts_with('#') {
            "\n"
        } else {
            line
        }
    });
    std::iter::once(shebang).chain(body).collect()
}

/// Logical id of the group; the boot script signals it (SIGNAL_RESOURCE).
pub const GROUP_RESOURCE: &str = "AppGroup";

/// Values for the settings block of the user data that only exist at deploy time.
const MAX_REGION_LEN: usize = 20;
const MAX_BUCKET_LEN: usize = 63;

/// The settings block the template's `Fn::Sub` produces, with its longest possible values:
/// used to check the 16 KiB user-data limit before any AWS call.
pub fn settings_block_upper_bound(
    stack_name: &str,
    build_number: u64,
    artifact_url: &str,
    (fetch_url, fetch_sha): (&str, &str),
    app_name: &str,
) -> usize {
    settings_block(&[
        ("STACK_NAME", stack_name),
        ("REGION", &"r".repeat(MAX_REGION_LEN)),
        ("CONFIG_BUCKET", &"b".repeat(MAX_BUCKET_LEN)),
        ("BUILD_NUMBER", &build_number.to_string()),
        ("ARTIFACT_URL", artifact_url),
        ("FETCH_URL", fetch_url),
        ("FETCH_SHA256", fetch_sha),
        ("APP_NAME", app_name),
        ("SIGNAL_RESOURCE", GROUP_RESOURCE),
    ])
    .len()
        + "#!/bin/bash\n".len()
}

/// The user data the instances of a stack get, as EC2 holds it before base64: the settings
/// block from the stack's `parameters`, then `boot_script`. The build record keeps its SHA-256.
pub fn rendered(
    stack_name: &str,
    region: &str,
    parameters: &std::collections::BTreeMap<String, String>,
    boot_script: &str,
) -> String {
    let p = |name: &str| parameters.get(name).map(String::as_str).unwrap_or("");
    let block = settings_block(&[
        ("STACK_NAME", stack_name),
        ("REGION", region),
        ("CONFIG_BUCKET", p("ConfigBucket")),
        ("BUILD_NUMBER", p("BuildNumber")),
        ("ARTIFACT_URL", p("ArtifactUrl")),
        ("FETCH_URL", p("FetchUrl")),
        ("FETCH_SHA256", p("FetchSha256")),
        ("APP_NAME", p("AppName")),
        ("SIGNAL_RESOURCE", GROUP_RESOURCE),
    ]);
    format!("#!/bin/bash\n{block}{boot_script}")
}

fn settings_block(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}='{v}'\n")).collect()
}
