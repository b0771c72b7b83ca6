//! Outgoing email: one [`Mailer`] over SMTP, a folder of `.eml` files, or the log; messages
//! are queued in the outbox table ([`crate::store::outbox`]) and sent by [`delivery`].
pub mod delivery;
pub mod messages;

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::MailSettings;

/// Why a message could not be built or handed to the transport.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A setting is unusable.
    #[error("mail setting {setting}: {reason}")]
    Config {
        setting: &'static str,
        reason: String,
    },
    /// The recipient or sender address is invalid, or the message could not be built.
    #[error("cannot build message: {0}")]
    Build(String),
    /// The transport refused or could not be reached.
    #[error("cannot send: {0}")]
    Send(String),
}

/// A message ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// Recipient.
    pub to: &'a str,
    /// Subject.
    pub subject: &'a str,
    /// Plain text part.
    pub text: &'a str,
    /// HTML part.
    pub html: &'a str,
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// A real SMTP server (`smtp://` plain or STARTTLS opportunistic, `smtps://` TLS).
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    /// One `.eml` file per message in a folder (the demo).
    File {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: String,
        from: Mailbox,
    },
    /// Written to the log at info level, body included (development only).
    Log { from: Mailbox },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mailer::Smtp { .. } => "Mailer::Smtp",
            Mailer::File { .. } => "Mailer::File",
            Mailer::Log { .. } => "Mailer::Log",
        })
    }
}

impl Mailer {
    /// Builds the transport named by `settings.transport`.
    pub fn from_settings(settings: &MailSettings) -> Result<Mailer, MailError> {
        let from: Mailbox = settings.from.parse().map_err(|e| MailError::Config {
            setting: "mail.from",
            reason: format!("{e}"),
        })?;
        match settings.transport.as_str() {
            "smtp" => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(
                    settings.smtp_url.expose_secret(),
                )
                .map_err(|e| MailError::Config {
                    setting: "mail.smtp_url",
                    reason: e.to_string(),
                })?
                .timeout(Some(Duration::from_secs(10)))
                .build();
                Ok(Mailer::Smtp { transport, from })
            }
            "file" => {
                std::fs::create_dir_all(&settings.file_dir).map_err(|e| MailError::Config {
                    setting: "mail.file_dir",
                    reason: format!("cannot create {}: {e}", settings.file_dir),
                })?;
                Ok(Mailer::File {
                    transport: AsyncFileTransport::<Tokio1Executor>::new(&settings.file_dir),
                    dir: settings.file_dir.clone(),
                    from,
                })
            }
            "log" => Ok(Mailer::Log { from }),
            other => Err(MailError::Config {
                setting: "mail.transport",
                reason: format!("'{other}' is not smtp, file or log"),
            }),
        }
    }

    fn from(&self) -> &Mailbox {
        match self {
            Mailer::Smtp { from, .. } | Mailer::File { from, .. } | Mailer::Log { from } => from,
        }
    }

    /// Sends one message now.
    pub async fn send(&self, msg: &Outgoing<'_>) -> Result<(), MailError> {
        let to: Mailbox = msg
            .to
            .parse()
            .map_err(|e| MailError::Build(format!("recipient '{}': {e}", msg.to)))?;
        let email = Message::builder()
            .from(self.from().clone())
            .to(to)
            .subject(msg.subject)
            .multipart(MultiPart::alternative_plain_html(
                msg.text.to_owned(),
                msg.html.to_owned(),
            ))
            .map_err(|e| MailError::Build(e.to_string()))?;
        match self {
            Mailer::Smtp { transport, .. } => transport
                .send(email)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Send(e.to_string())),
            Mailer::File { transport, dir, .. } => {
                let id = transport
                    .send(email)
                    .await
                    .map_err(|e| MailError::Send(e.to_string()))?;
                tracing::info!(to = msg.to, subject = msg.subject, file = %format!("{dir}/{id}.eml"), "mail written");
                Ok(())
            }
            Mailer::Log { .. } => {
                tracing::info!(
                    to = msg.to,
                    subject = msg.subject,
                    body = msg.text,
                    "mail (log transport)"
                );
                Ok(())
            }
        }
    }
}
