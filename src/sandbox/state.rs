//! Shared sandbox state: clients, tokens, tenants, faults. Usable in-process from tests.
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::DefaultDirectRateLimiter;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::faults::Faults;
use super::tenant::{Tenant, res};
use crate::servicetitan::{
    Appointment, Booking, Contact, Customer, CustomerMembership, Invoice, Job, JobNote, Location,
};

struct Client {
    secret: String,
    tenants: HashSet<i64>,
    token_requests: u64,
    /// API modules (`crm`, `memberships`, ...) whose scope the tenant withdrew from this
    /// client: every call there is answered 403 while the token itself stays good.
    denied_modules: HashSet<String>,
}

/// A tenant's data plus its rate limiter.
pub(crate) struct TenantEntry {
    pub(crate) data: Mutex<Tenant>,
    pub(crate) limiter: DefaultDirectRateLimiter,
}

struct Inner {
    app_key: String,
    rate: u32,
    token_ttl: Mutex<Duration>,
    faults: Mutex<Faults>,
    scripted: Mutex<VecDeque<u16>>,
    lost_answers: Mutex<Vec<(String, String)>>,
    check_contract: std::sync::atomic::AtomicBool,
    export_delay: Mutex<Duration>,
    clients: Mutex<HashMap<String, Client>>,
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    tenants: RwLock<HashMap<i64, Arc<TenantEntry>>>,
}

/// Handle on the sandbox's state (cheap to clone).
#[derive(Clone)]
pub struct SandboxState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxState")
            .field("tenants", &self.inner.tenants.read().len())
            .finish_non_exhaustive()
    }
}

/// What landed in one simulated tenant, typed with the client's models.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSnapshot {
    /// Tenant ID.
    pub tenant_id: i64,
    /// Customers (with custom fields and tags).
    pub customers: Vec<Customer>,
    /// Locations (with custom field values and tags).
    pub locations: Vec<Location>,
    /// Contacts by customer ID.
    pub contacts: BTreeMap<i64, Vec<Contact>>,
    /// Bookings.
    pub bookings: Vec<Booking>,
    /// Jobs.
    pub jobs: Vec<Job>,
    /// Appointments.
    pub appointments: Vec<Appointment>,
    /// Notes by job ID.
    pub job_notes: BTreeMap<i64, Vec<JobNote>>,
    /// Customer memberships.
    pub memberships: Vec<CustomerMembership>,
    /// Invoices with items.
    pub invoices: Vec<Invoice>,
    /// API calls served (after auth and rate limiting).
    pub calls: u64,
    /// Calls refused with 429 by the rate limiter.
    pub rate_limited: u64,
    /// Calls by `METHOD /module/path` with IDs as `{id}`.
    pub calls_by_endpoint: BTreeMap<String, u64>,
}

impl TenantSnapshot {
    /// The value of custom field `type_id` on location `location_id`.
    pub fn location_custom_field(&self, location_id: i64, type_id: i64) -> Option<&str> {
        self.locations
            .iter()
            .find(|l| l.id == location_id)?
            .custom_field(type_id)
    }
}

/// Decodes stored rows with the client's models, as ServiceTitan would serve them (every
/// application's `externalData`). A row that does not decode is a sandbox bug: it panics with
/// the reason rather than silently leaving the row out.
fn typed<T: DeserializeOwned>(rows: impl Iterator<Item = Value>) -> Vec<T> {
    rows.map(|v| {
        let shown = super::routes::present(&v, super::routes::Guid::All);
        match serde_json::from_value(shown) {
            Ok(t) => t,
            Err(e) => panic!(
                "sandbox row does not decode as {}: {e}: {v}",
                std::any::type_name::<T>()
            ),
        }
    })
    .collect()
}

/// Outcome of the access checks for one API call.
pub(crate) enum Access {
    Granted(Arc<TenantEntry>),
    NoToken,
    BadToken,
    UnknownTenant,
    NotGranted,
    /// The client holds the tenant but not the scope of this module.
    ScopeDenied,
}

impl SandboxState {
    pub(crate) fn new(app_key: &str, rate: u32, token_ttl: Duration, faults: Faults) -> Self {
        Self {
            inner: Arc::new(Inner {
                app_key: app_key.to_owned(),
                rate: rate.max(1),
                token_ttl: Mutex::new(token_ttl),
                faults: Mutex::new(faults),
                scripted: Mutex::new(VecDeque::new()),
                lost_answers: Mutex::new(Vec::new()),
                check_contract: std::sync::atomic::AtomicBool::new(true),
                export_delay: Mutex::new(super::tenant::DEFAULT_EXPORT_DELAY),
                clients: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
                tenants: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// Creates (seeded) tenant `tenant_id` if new, and grants it to `client_id`, registering
    /// the client with `client_secret` if new (an existing client keeps its secret).
    pub fn add_tenant(&self, tenant_id: i64, client_id: &str, client_secret: &str) {
        {
            let mut tenants = self.inner.tenants.write();
            tenants.entry(tenant_id).or_insert_with(|| {
                let rate = self.inner.rate;
                let mut data = Tenant::seeded();
                data.export_delay = *self.inner.export_delay.lock();
                Arc::new(TenantEntry {
                    data: Mutex::new(data),
                    limiter: governor::RateLimiter::direct(crate::servicetitan::quota(rate, rate)),
                })
            });
        }
        self.inner
            .clients
            .lock()
            .entry(client_id.to_owned())
            .or_insert_with(|| Client {
                secret: client_secret.to_owned(),
                tenants: HashSet::new(),
                token_requests: 0,
                denied_modules: HashSet::new(),
            })
            .tenants
            .insert(tenant_id);
    }

    pub(crate) fn entry(&self, tenant_id: i64) -> Option<Arc<TenantEntry>> {
        self.inner.tenants.read().get(&tenant_id).cloned()
    }

    /// Runs `f` on a tenant's data.
    pub(crate) fn with_tenant<R>(
        &self,
        tenant_id: i64,
        f: impl FnOnce(&mut Tenant) -> R,
    ) -> Option<R> {
        let entry = self.entry(tenant_id)?;
        let mut data = entry.data.lock();
        Some(f(&mut data))
    }

    /// Everything stored for a tenant, typed; `None` for an unknown tenant.
    pub fn snapshot(&self, tenant_id: i64) -> Option<TenantSnapshot> {
        self.with_tenant(tenant_id, |t| {
            let rows = |t: &Tenant, name| {
                t.read(name)
                    .map(|c| c.values().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
            };
            TenantSnapshot {
                tenant_id,
                customers: typed(rows(t, res::CUSTOMERS).into_iter()),
                locations: typed(rows(t, res::LOCATIONS).into_iter()),
                contacts: t
                    .contacts
                    .iter()
                    .map(|(k, v)| (*k, typed(v.iter().cloned())))
                    .collect(),
                bookings: typed(rows(t, res::BOOKINGS).into_iter()),
                jobs: typed(rows(t, res::JOBS).into_iter()),
                appointments: typed(rows(t, res::APPOINTMENTS).into_iter()),
                job_notes: t
                    .notes
                    .iter()
                    .map(|(k, v)| (*k, typed(v.iter().cloned())))
                    .collect(),
                memberships: typed(rows(t, res::MEMBERSHIPS).into_iter()),
                invoices: typed(rows(t, res::INVOICES).into_iter()),
                calls: t.calls,
                rate_limited: t.rate_limited,
                calls_by_endpoint: t.calls_by_endpoint.clone(),
            }
        })
    }

    /// Queues a contractor edit of location custom field `type_id` that lands right after the
    /// next read of the location: between a client's read and its write.
    pub fn edit_location_field_after_next_read(
        &self,
        tenant_id: i64,
        location_id: i64,
        type_id: i64,
        value: &str,
    ) -> bool {
        self.with_tenant(tenant_id, |t| {
            t.edits_after_read
                .push((location_id, type_id, value.to_owned()))
        })
        .is_some()
    }

    /// Sets a location custom field as the contractor would in ServiceTitan's UI.
    pub fn set_location_field(
        &self,
        tenant_id: i64,
        location_id: i64,
        type_id: i64,
        value: &str,
    ) -> bool {
        self.edit_location_field_after_next_read(tenant_id, location_id, type_id, value)
            && self
                .with_tenant(tenant_id, |t| {
                    super::routes::crm::apply_edits_after_read(t, location_id)
                })
                .is_some()
    }

    /// (calls served, calls refused with 429) for a tenant, without copying its records.
    pub fn call_counts(&self, tenant_id: i64) -> Option<(u64, u64)> {
        self.with_tenant(tenant_id, |t| (t.calls, t.rate_limited))
    }

    /// Sets the export visibility delay of every tenant, present and future.
    pub fn set_export_delay(&self, delay: Duration) {
        *self.inner.export_delay.lock() = delay;
        for e in self.inner.tenants.read().values() {
            e.data.lock().export_delay = delay;
        }
    }

    /// Deletes a record as a contractor would in ServiceTitan's UI: gone from lists and reads,
    /// served by exports with `active: false`. `resource` is `locations`, `customers`, `jobs`,
    /// `appointments`, `memberships`, `invoices` or `bookings`.
    pub fn delete_record(&self, tenant_id: i64, resource: &str, id: i64) -> bool {
        let Some(name) = super::tenant::res::ALL_RECORDS
            .iter()
            .copied()
            .find(|n| *n == resource)
        else {
            return false;
        };
        self.with_tenant(tenant_id, |t| match t.coll(name).get_mut(&id) {
            Some(rec) => {
                rec[super::routes::export::DELETED] = serde_json::json!(true);
                rec["modifiedOn"] = serde_json::json!(super::tenant::now());
                if rec.get("active").is_some() {
                    rec["active"] = serde_json::json!(false);
                }
                true
            }
            None => false,
        })
        .unwrap_or(false)
    }

    /// Sets a customer membership's status as the contractor would (`Canceled` also sets the
    /// cancellation date, `Deleted` clears `active`), bumping `modifiedOn`.
    pub fn set_membership_status(&self, tenant_id: i64, membership_id: i64, status: &str) -> bool {
        self.with_tenant(tenant_id, |t| {
            let stamp = super::tenant::now();
            match t
                .coll(super::tenant::res::MEMBERSHIPS)
                .get_mut(&membership_id)
            {
                Some(m) => {
                    m["status"] = serde_json::json!(status);
                    m["active"] = serde_json::json!(status != "Deleted");
                    if status == "Canceled" {
                        m["cancellationDate"] = serde_json::json!(stamp);
                    }
                    m["modifiedOn"] = serde_json::json!(stamp);
                    true
                }
                None => false,
            }
        })
        .unwrap_or(false)
    }

    /// Converts a call-centre booking into job `job_id` as a dispatcher would in ServiceTitan
    /// (status `Converted`, `jobId` set, `modifiedOn` bumped).
    pub fn convert_booking(&self, tenant_id: i64, booking_id: i64, job_id: i64) -> bool {
        self.with_tenant(tenant_id, |t| {
            match t.coll(super::tenant::res::BOOKINGS).get_mut(&booking_id) {
                Some(b) => {
                    b["jobId"] = serde_json::json!(job_id);
                    b["status"] = serde_json::json!("Converted");
                    b["modifiedOn"] = serde_json::json!(super::tenant::now());
                    true
                }
                None => false,
            }
        })
        .unwrap_or(false)
    }

    /// Replaces the fault knobs.
    pub fn set_faults(&self, f: Faults) {
        *self.inner.faults.lock() = f;
    }

    /// The current fault knobs.
    pub fn faults(&self) -> Faults {
        self.inner.faults.lock().clone()
    }

    /// Answers the next `count` API calls (any tenant, after auth) with `status`.
    pub fn fail_next(&self, status: u16, count: usize) {
        let mut q = self.inner.scripted.lock();
        q.extend(std::iter::repeat_n(status, count));
    }

    /// Whether calls are checked against the official OpenAPI documents.
    pub fn set_check_contract(&self, on: bool) {
        self.inner
            .check_contract
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn checks_contract(&self) -> bool {
        self.inner
            .check_contract
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Processes the next `method` call whose path (below the tenant) ends with `path_suffix`,
    /// then loses its answer: the caller gets a 502 although the write happened, as when a
    /// response is cut off on its way back.
    pub fn lose_next_answer(&self, method: &str, path_suffix: &str) {
        self.inner
            .lost_answers
            .lock()
            .push((method.to_ascii_uppercase(), path_suffix.to_owned()));
    }

    /// Whether this call's answer is to be lost (and the knob used up).
    pub(crate) fn take_lost_answer(&self, method: &str, path: &str) -> bool {
        let mut lost = self.inner.lost_answers.lock();
        match lost
            .iter()
            .position(|(m, suffix)| m == method && path.ends_with(suffix.as_str()))
        {
            Some(i) => {
                lost.remove(i);
                true
            }
            None => false,
        }
    }

    pub(crate) fn next_scripted(&self) -> Option<u16> {
        self.inner.scripted.lock().pop_front()
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: Duration) {
        *self.inner.token_ttl.lock() = ttl;
    }

    /// Invalidates every issued token (callers then get 401).
    pub fn expire_tokens(&self) {
        self.inner.tokens.lock().clear();
    }

    /// Revokes `client_id`'s access as a tenant admin would: its secret stops working (the
    /// token endpoint answers 400 `invalid_client`) and its issued tokens stop working (401).
    /// `false` for an unknown client.
    pub fn revoke_client(&self, client_id: &str) -> bool {
        {
            let mut clients = self.inner.clients.lock();
            let Some(c) = clients.get_mut(client_id) else {
                return false;
            };
            c.secret = format!("revoked-{:032x}", rand::random::<u128>());
        }
        self.inner.tokens.lock().retain(|_, (c, _)| c != client_id);
        true
    }

    /// Withdraws (`denied = true`) or gives back the scope of API `module` from `client_id`,
    /// as a tenant admin does by editing the app's scopes. `false` for an unknown client.
    pub fn deny_module(&self, client_id: &str, module: &str, denied: bool) -> bool {
        let mut clients = self.inner.clients.lock();
        let Some(c) = clients.get_mut(client_id) else {
            return false;
        };
        if denied {
            c.denied_modules.insert(module.to_owned());
        } else {
            c.denied_modules.remove(module);
        }
        true
    }

    /// Token requests made with `client_id` (accepted or not).
    pub fn token_requests(&self, client_id: &str) -> u64 {
        self.inner
            .clients
            .lock()
            .get(client_id)
            .map_or(0, |c| c.token_requests)
    }

    /// Access tokens currently issued to `client_id` (lets tests assert tokens never leak).
    pub fn tokens_for(&self, client_id: &str) -> Vec<String> {
        self.inner
            .tokens
            .lock()
            .iter()
            .filter(|(_, (c, _))| c == client_id)
            .map(|(t, _)| t.clone())
            .collect()
    }

    pub(crate) fn app_key_ok(&self, key: Option<&str>) -> bool {
        key == Some(self.inner.app_key.as_str())
    }

    /// Issues a token for valid credentials: `(token, lifetime)`.
    pub(crate) fn issue_token(&self, client_id: &str, secret: &str) -> Option<(String, Duration)> {
        {
            let mut clients = self.inner.clients.lock();
            let client = clients.get_mut(client_id)?;
            client.token_requests += 1;
            if client.secret != secret {
                return None;
            }
        }
        let ttl = *self.inner.token_ttl.lock();
        let token = format!(
            "{:032x}{:032x}",
            rand::random::<u128>(),
            rand::random::<u128>()
        );
        let mut tokens = self.inner.tokens.lock();
        if tokens.len() > 10_000 {
            let now = Instant::now();
            tokens.retain(|_, (_, exp)| *exp > now);
        }
        tokens.insert(token.clone(), (client_id.to_owned(), Instant::now() + ttl));
        Some((token, ttl))
    }

    /// Token, tenant and grant checks for one call.
    pub(crate) fn access(&self, token: Option<&str>, tenant_id: i64, module: &str) -> Access {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Access::NoToken;
        };
        let client_id = match self.inner.tokens.lock().get(token) {
            Some((client, exp)) if *exp > Instant::now() => client.clone(),
            _ => return Access::BadToken,
        };
        let Some(entry) = self.entry(tenant_id) else {
            return Access::UnknownTenant;
        };
        let clients = self.inner.clients.lock();
        match clients.get(&client_id) {
            Some(c) if !c.tenants.contains(&tenant_id) => Access::NotGranted,
            Some(c) if c.denied_modules.contains(module) => Access::ScopeDenied,
            Some(_) => Access::Granted(entry),
            None => Access::NotGranted,
        }
    }
}
