//! Live progress of a `submit` on stderr: bytes sent, and with --wait, tasks ended. Hidden
//! when stderr is not a terminal (a pipe, a log file, CI) and with --json, so that only a
//! person at a terminal sees it.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub(crate) struct Progress {
    multi: MultiProgress,
    upload: ProgressBar,
    ended: Option<ProgressBar>,
    files: u64,
}

impl Progress {
    pub(crate) fn new(wanted: bool, total_bytes: u64, files: u64, wait: bool) -> Self {
        let target = if wanted && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let upload = multi.add(bar(
            total_bytes,
            "{prefix:>9} [{bar:30}] {bytes}/{total_bytes} {msg}",
        ));
        upload.set_prefix("uploading");
        upload.set_message(format!("0/{files} files"));
        let ended = wait.then(|| {
            let ended = multi.add(bar(
                files,
                "{prefix:>9} [{bar:30}] {pos}/{len} tasks ended {msg}",
            ));
            ended.set_prefix("waiting");
            ended
        });
        Self {
            multi,
            upload,
            ended,
            files,
        }
    }

    /// Bytes of a file's body went out.
    pub(crate) fn sent(&self, bytes: u64) {
        self.upload.inc(bytes);
    }

    /// An attempt is sent again (the server asked to retry): its bytes go out once more.
    pub(crate) fn resend(&self, bytes: u64) {
        self.upload.dec(bytes);
    }

    /// A file's upload is settled (accepted or refused), `done` of them now.
    pub(crate) fn uploaded(&self, done: u64) {
        self.upload
            .set_message(format!("{done}/{} files", self.files));
    }

    /// A task ended (or could not be followed).
    pub(crate) fn ended(&self) {
        if let Some(ended) = &self.ended {
            ended.inc(1);
        }
    }

    /// Print a line on stdout without tearing the bars.
    pub(crate) fn print(&self, line: &str) {
        self.multi.suspend(|| println!("{line}"));
    }

    pub(crate) fn finish(&self) {
        self.upload.finish_and_clear();
        if let Some(ended) = &self.ended {
            ended.finish_and_clear();
        }
    }
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    // The templates are constants: one that does not parse falls back to the default look.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
