//! Presentation only: result lines go to stdout, and on a terminal a spinner on stderr shows the
//! stack's status and the time spent. Every spinner is made here.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Where the tool's lines and its live status go.
pub struct Display {
    spinner: Option<ProgressBar>,
    captured: Option<Arc<Mutex<Vec<String>>>>,
}

impl Display {
    /// A spinner when stderr is a terminal, plain lines otherwise (CI logs stay clean).
    pub fn new() -> Display {
        if !std::io::stderr().is_terminal() {
            return Display::plain();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Display {
            spinner: Some(bar),
            captured: None,
        }
    }

    /// Lines only, never a spinner (tests, pipes).
    pub fn plain() -> Display {
        Display {
            spinner: None,
            captured: None,
        }
    }

    /// Keeps the lines in memory instead of printing them, for tests that read what an
    /// operator would see.
    pub fn capture() -> (Display, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let display = Display {
            spinner: None,
            captured: Some(lines.clone()),
        };
        (display, lines)
    }

    /// Prints one result line on stdout, above the spinner.
    pub fn line(&self, text: impl AsRef<str>) {
        let text = text.as_ref();
        if let Some(lines) = &self.captured {
            if let Ok(mut lines) = lines.lock() {
                lines.push(text.to_string());
            }
            return;
        }
        match &self.spinner {
            Some(bar) => bar.suspend(|| println!("{text}")),
            None => println!("{text}"),
        }
    }

    /// Updates the live status next to the spinner.
    pub fn status(&self, text: impl Into<String>) {
        if let Some(bar) = &self.spinner {
            bar.set_message(text.into());
        }
    }

    /// Removes the spinner before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.spinner {
            bar.finish_and_clear();
        }
    }
}

impl Default for Display {
    fn default() -> Self {
        Display::new()
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.finish();
    }
}
