//! Session tests on a fake debuggee.
