//! Mapping tables and our side's world: members, service locations, devices, alerts (reminders),
//! the Comfort Credit ledger, bookings and API idempotency records.
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
                .table("plan_mappings")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                .col(string("plan_code"))
                .col(big_integer("membership_type_id"))
                .col(string("membership_type_name"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("plan_mappings", "integration_id", "integrations"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "plan_mappings",
            "ux_plan_mappings",
            &["integration_id", "plan_code"],
            true,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("job_type_mappings")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                .col(string("trade"))
                .col(string("condition"))
                .col(big_integer("business_unit_id"))
                .col(string("business_unit_name"))
                .col(big_integer("job_type_id"))
                .col(string("job_type_name"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk(
                    "job_type_mappings",
                    "integration_id",
                    "integrations",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "job_type_mappings",
            "ux_job_type_mappings",
            &["integration_id", "trade", "condition"],
            true,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("eligible_services")
                .col(big_pk_auto("id"))
                .col(big_integer("integration_id"))
                .col(big_integer("service_id"))
                .col(string("code"))
                .col(string("name"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "eligible_services",
                    "integration_id",
                    "integrations",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "eligible_services",
            "ux_eligible_services",
            &["integration_id", "service_id"],
            true,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("members")
                .col(big_pk_auto("id"))
                .col(big_integer("partner_id"))
                // The platform's own member ID.
                .col(string("external_id"))
                .col(string("first_name"))
                .col(string("last_name"))
                .col(string_null("email"))
                .col(string_null("phone"))
                .col(string_null("plan_code"))
                // Active | Suspended | Expired | Canceled (as last reported by ServiceTitan).
                .col(string_null("membership_status"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("members", "partner_id", "partners"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "members",
            "ux_members_external",
            &["partner_id", "external_id"],
            true,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("service_locations")
                .col(big_pk_auto("id"))
                .col(big_integer("partner_id"))
                .col(big_integer("member_id"))
                .col(string("external_id"))
                .col(string("name"))
                .col(string("street"))
                .col(string_null("unit"))
                .col(string("city"))
                .col(string("state"))
                .col(string("zip"))
                .col(string("country"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("service_locations", "member_id", "members"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "service_locations",
            "ux_service_locations_external",
            &["partner_id", "external_id"],
            true,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("devices")
                .col(big_pk_auto("id"))
                .col(big_integer("location_id"))
                .col(string("external_id"))
                .col(boolean("online").default(true))
                .col(boolean("battery_low").default(false))
                .col(boolean("filter_due").default(false))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("devices", "location_id", "service_locations"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "devices",
            "ux_devices_external",
            &["location_id", "external_id"],
            true,
        ))
        .await?;
        // One row per alert episode; resolved_at set when the device reports it cleared.
        m.create_table(
            Table::create()
                .table("reminders")
                .col(big_pk_auto("id"))
                .col(big_integer("location_id"))
                // hub_offline | battery_low | air_filter_due
                .col(string("alert"))
                .col(timestamp_with_time_zone("opened_at"))
                .col(timestamp_with_time_zone_null("resolved_at"))
                .foreign_key(&mut fk("reminders", "location_id", "service_locations"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "reminders",
            "ix_reminders_location",
            &["location_id", "resolved_at"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("credit_ledger")
                .col(big_pk_auto("id"))
                .col(big_integer("partner_id"))
                .col(big_integer("location_id"))
                .col(big_integer("amount"))
                .col(string("reason"))
                // platform:<idempotency key> | st-invoice-item:<invoice>:<item>
                .col(string("source_key"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("credit_ledger", "location_id", "service_locations"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "credit_ledger",
            "ux_credit_ledger_source",
            &["partner_id", "source_key"],
            true,
        ))
        .await?;
        m.create_index(index(
            "credit_ledger",
            "ix_credit_ledger_location",
            &["location_id"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("bookings")
                .col(big_pk_auto("id"))
                .col(big_integer("partner_id"))
                .col(big_integer("location_id"))
                .col(string("idempotency_key"))
                .col(string("trade"))
                .col(string("condition"))
                .col(text("summary"))
                .col(timestamp_with_time_zone_null("slot_start"))
                .col(timestamp_with_time_zone_null("slot_end"))
                .col(timestamp_with_time_zone_null("arrival_window_start"))
                .col(timestamp_with_time_zone_null("arrival_window_end"))
                // pending | scheduled | requested | rescheduled | cancelled | completed | failed
                .col(string("status"))
                .col(big_integer_null("st_job_id"))
                .col(big_integer_null("st_booking_id"))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("bookings", "location_id", "service_locations"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "bookings",
            "ux_bookings_idempotency",
            &["partner_id", "idempotency_key"],
            true,
        ))
        .await?;
        // First responses of idempotent platform API calls.
        m.create_table(
            Table::create()
                .table("api_idempotency")
                .col(big_pk_auto("id"))
                .col(big_integer("partner_id"))
                .col(string("idempotency_key"))
                .col(string("request_hash"))
                .col(integer("status"))
                .col(text("body"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("api_idempotency", "partner_id", "partners"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "api_idempotency",
            "ux_api_idempotency",
            &["partner_id", "idempotency_key"],
            true,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "api_idempotency",
            "bookings",
            "credit_ledger",
            "reminders",
            "devices",
            "service_locations",
            "members",
            "eligible_services",
            "job_type_mappings",
            "plan_mappings",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
