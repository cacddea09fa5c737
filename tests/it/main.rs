//! The one integration test binary (see "Delete Cargo Integration Tests"): every module here
//! tests faqbot from the outside, through its public API, its CLI or its network endpoints.

mod accuracy;
mod browser;
mod chat;
mod cli;
mod crash;
mod handoff;
mod helpers;
mod limits;
mod live;
mod metrics;
mod nodes;
mod postgres;
mod privacy;
mod report;
mod sessions;
mod store;
mod web;
