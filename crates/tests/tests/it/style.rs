//! Tests of style (see the module's owner).
