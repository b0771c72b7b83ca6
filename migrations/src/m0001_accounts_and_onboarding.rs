//! Partners, users, integrations with their audit log, continue-setup tokens and the mail outbox.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("partners")
                .col(big_pk_auto("id"))
                .col(string("name"))
                .col(string_uniq("slug"))
                // SHA-256 of the platform API bearer token (the token itself is never stored).
                .col(string_null("api_token_hash").unique_key())
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("users")
                .col(big_pk_auto("id"))
                .col(big_integer_null("partner_id"))
                .col(string_uniq("email"))
                .col(string("name"))
                // partner_admin | ops
                .col(string("role"))
                .col(string("password_hash"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("users", "partner_id", "partners"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("integrations")
                .col(big_pk_auto("id"))
                .col(big_integer_uniq("partner_id"))
                .col(big_integer_null("tenant_id"))
                .col(string("environment"))
                .col(string("state"))
                .col(string_null("client_id"))
                // AES-256-GCM ciphertext (nonce || ciphertext, base64) of the client secret.
                .col(text_null("client_secret_enc"))
                .col(big_integer_null("tag_type_id"))
                .col(string_null("tag_type_name"))
                .col(big_integer_null("credit_field_type_id"))
                .col(string_null("credit_field_name"))
                .col(big_integer_null("campaign_id"))
                .col(string_null("campaign_name"))
                .col(boolean("capacity_enabled").default(false))
                // business_unit | technician
                .col(string_null("capacity_mode"))
                .col(text_null("state_reason"))
                .col(timestamp_with_time_zone_null("submitted_at"))
                .col(timestamp_with_time_zone_null("last_sync_at"))
                .col(text_null("last_error"))
                .col(big_integer("backfill_total").default(0))
                .col(big_integer("backfill_done").default(0))
                .col(integer("version").default(0))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("integrations", "partner_id", "partners"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "integrations",
            "ix_integrations_state",
            &["state"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("integration_events")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                .col(big_integer_null("actor_user_id"))
                // e.g. "ops:ana@titanbridge.local", "partner:bob@acme.example", "system"
                .col(string("actor"))
                .col(string("event"))
                .col(string("from_state"))
                .col(string("to_state"))
                .col(text_null("reason"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "integration_events",
                    "integration_id",
                    "integrations",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "integration_events",
            "ix_integration_events_integration",
            &["integration_id", "id"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("setup_tokens")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                // SHA-256 of the random token in the Continue Setup link.
                .col(string_uniq("token_hash"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("setup_tokens", "integration_id", "integrations"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("outbound_emails")
                .col(big_pk_auto("id"))
                .col(big_integer_null("integration_id"))
                .col(string("to_address"))
                .col(string("subject"))
                .col(text("body_text"))
                .col(text("body_html"))
                // pending | sent | dead
                .col(string("state"))
                .col(integer("attempts").default(0))
                .col(text_null("last_error"))
                .col(big_integer("next_attempt_ms"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .foreign_key(&mut fk("outbound_emails", "integration_id", "integrations"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "outbound_emails",
            "ix_outbound_emails_due",
            &["state", "next_attempt_ms"],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "outbound_emails",
            "setup_tokens",
            "integration_events",
            "integrations",
            "users",
            "partners",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
