//! Portable table definitions shared by SQLite and PostgreSQL.
//!
//! Written by hand (not by `diesel print-schema`) so both backends read the same
//! types; `tests/schema.rs` selects every column on both to prove it matches the
//! migrations.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        session_hash -> Binary,
        csrf_hash -> Binary,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        reveal -> Nullable<Binary>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        key_hash -> Binary,
        hint -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    endpoints (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        description -> Text,
        auth -> Text,
        allow_delete -> Bool,
        enabled -> Bool,
        max_body_bytes -> BigInt,
        retention_days -> Nullable<Integer>,
        ip_allowlist -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        schema_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    endpoint_schemas (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        version -> Integer,
        mode -> Text,
        schema -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    primary_tokens (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        method -> Text,
        token_hash -> Binary,
        hint -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tokens (id) {
        id -> BigInt,
        name -> Text,
        description -> Text,
        token_hash -> Binary,
        hint -> Text,
        previous_hash -> Nullable<Binary>,
        previous_valid_until -> Nullable<Timestamp>,
        enabled -> Bool,
        active -> Bool,
        expires_at -> Nullable<Timestamp>,
        rate_limit_per_minute -> Nullable<Integer>,
        ip_allowlist -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mappings (token_id, endpoint_id, method) {
        token_id -> BigInt,
        endpoint_id -> BigInt,
        method -> Text,
        enabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        expect_every_seconds -> Nullable<Integer>,
        expect_since -> Nullable<Timestamp>,
    }
}

diesel::table! {
    records (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        received_at -> Timestamp,
        data -> Text,
    }
}

diesel::table! {
    idempotency_keys (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        principal -> Text,
        idem_key -> Text,
        body_hash -> Binary,
        record_id -> BigInt,
        received_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    calls (id) {
        id -> BigInt,
        at -> Timestamp,
        endpoint_id -> Nullable<BigInt>,
        endpoint_slug -> Text,
        method -> Text,
        path -> Text,
        status -> Integer,
        code -> Nullable<Text>,
        token_kind -> Text,
        token_id -> Nullable<BigInt>,
        token_name -> Nullable<Text>,
        token_method -> Nullable<Text>,
        remote_addr -> Text,
        user_agent -> Nullable<Text>,
        request_bytes -> BigInt,
        response_bytes -> BigInt,
        duration_us -> BigInt,
        record_id -> Nullable<BigInt>,
        repeats -> BigInt,
        conforms -> Nullable<Bool>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Nullable<BigInt>,
        detail -> Text,
    }
}

diesel::table! {
    access_generation (id) {
        id -> Integer,
        n -> BigInt,
    }
}

diesel::table! {
    limit_windows (scope, key, window_start) {
        scope -> Text,
        key -> Text,
        window_start -> Timestamp,
        used -> BigInt,
        granted -> BigInt,
    }
}

diesel::table! {
    limit_blocks (scope, key) {
        scope -> Text,
        key -> Text,
        until -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        key -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        kind -> Text,
        key -> Text,
        at -> Timestamp,
        payload -> Text,
        dispatched_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    token_policy (id) {
        id -> Integer,
        default_expiry_days -> Nullable<Integer>,
        max_lifetime_days -> Nullable<Integer>,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mapping_activity (token_id, endpoint_id, method) {
        token_id -> BigInt,
        endpoint_id -> BigInt,
        method -> Text,
        last_call_at -> Nullable<Timestamp>,
        last_refusal_at -> Nullable<Timestamp>,
        silent_since -> Nullable<Timestamp>,
        resumed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mapping_hours (token_id, endpoint_id, method, hour) {
        token_id -> BigInt,
        endpoint_id -> BigInt,
        method -> Text,
        hour -> Timestamp,
        calls -> BigInt,
        refusals -> BigInt,
    }
}

diesel::table! {
    mapping_refusal_windows (token_id, endpoint_id, method, window_start) {
        token_id -> BigInt,
        endpoint_id -> BigInt,
        method -> Text,
        window_start -> Timestamp,
        refusals -> BigInt,
    }
}

diesel::table! {
    alert_targets (id) {
        id -> BigInt,
        name -> Text,
        url -> Text,
        events -> Text,
        enabled -> Bool,
        secret_sealed -> Binary,
        secret_hint -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    alert_deliveries (id) {
        id -> BigInt,
        target_id -> BigInt,
        event_id -> BigInt,
        state -> Text,
        attempts -> Integer,
        created_at -> Timestamp,
        next_attempt_at -> Timestamp,
        lease -> Nullable<Text>,
        leased_until -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    alert_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        at -> Timestamp,
        status_code -> Nullable<Integer>,
        latency_ms -> BigInt,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(primary_tokens -> endpoints (endpoint_id));
diesel::joinable!(endpoint_schemas -> endpoints (endpoint_id));
diesel::joinable!(mappings -> tokens (token_id));
diesel::joinable!(mappings -> endpoints (endpoint_id));
diesel::joinable!(records -> endpoints (endpoint_id));
diesel::joinable!(alert_deliveries -> alert_targets (target_id));
diesel::joinable!(alert_deliveries -> events (event_id));
diesel::joinable!(alert_attempts -> alert_deliveries (delivery_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    api_keys,
    endpoints,
    endpoint_schemas,
    primary_tokens,
    tokens,
    mappings,
    records,
    idempotency_keys,
    calls,
    audit_log,
    events,
    alert_targets,
    alert_deliveries,
    alert_attempts,
    mapping_activity,
    mapping_hours,
    mapping_refusal_windows,
    access_generation,
    limit_windows,
    limit_blocks,
    login_failures,
    token_policy,
);
