//! Every Kinde service of the contract, served by one [`Gateway`].

use tonic::service::Routes;

use crate::Gateway;

/// `routes` with every service of `proto/kinde/management/v1/` added, each backed by a clone
/// of `gateway`. The list is written by the build script from the compiled contract, so a
/// service added to the contract is served as soon as its generated handlers exist.
pub(crate) fn kinde(gateway: &Gateway, routes: Routes) -> Routes {
    include!(concat!(env!("OUT_DIR"), "/kinde_routes.rs"))
}
