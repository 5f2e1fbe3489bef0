//! Placeholder: the Node-RED test is being written.
