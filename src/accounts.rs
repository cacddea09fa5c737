//! Advisor accounts as `faqbot advisor` manages them: add, list, rotate a token, remove. Each
//! change is one transaction on the service's own database, so it may run while `faqbot serve`
//! does: the service reads tokens and sessions from the database on every request, and an open
//! advisor WebSocket checks its own again before each frame and every 30 seconds.
//!
//! Removing an advisor releases the conversations they hold back to the bot, exactly as their
//! « Rendre au bot » would: the handoff ends as `released`, the visitor is told the advisor
//! left and may ask for one again. Putting them back in the queue was the other choice; but
//! an account is removed when someone has left, often long after their last chat, and a queue
//! refilled with conversations whose visitors are gone would send colleagues to empty rooms
//! (and alerts out) while the visitors still there only need the advisor button.

use crate::clock::now_ms;
use crate::dialogue;
use crate::model::{AdvisorSummary, EndStatus};
use crate::protocol;
use crate::secret::{hash_token, new_token};
use crate::store::{Admin, StoreError};

/// Creates an advisor with `role`; returns their token (only its hash is stored).
pub fn add(store: &mut Admin, name: &str, role: &str) -> Result<String, StoreError> {
    let token = new_token();
    store.add_advisor(name, role, &hash_token(&token), now_ms())?;
    Ok(token)
}

/// Every advisor, by name, with their live sessions.
pub fn list(store: &Admin) -> Result<Vec<AdvisorSummary>, StoreError> {
    store.advisors(now_ms())
}

/// Gives `name` a new token, which is returned: the old one stops working and every session
/// opened with it ends.
pub fn rotate(store: &mut Admin, name: &str) -> Result<String, StoreError> {
    let token = new_token();
    store.rotate_token(name, &hash_token(&token))?;
    Ok(token)
}

/// Removes `name` and ends their sessions; the conversations they held, returned, go back to
/// the bot (see the module's documentation for why).
pub fn remove(store: &mut Admin, name: &str) -> Result<Vec<String>, StoreError> {
    store.remove_advisor(name, now_ms(), |conversation| {
        dialogue::end(conversation, name, EndStatus::Released).map_frames(|n| protocol::payload(&n))
    })
}
