//! Tests of features (see the module's owner).
