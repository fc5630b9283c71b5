//! Tests of lowzoom (see the module's owner).
