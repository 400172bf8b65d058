//! Every operation is callable: the client sends its method, path and query, and the example
//! response of the operation parses into its generated type.

mod common;

#[tokio::test]
async fn every_operation_sends_its_route_and_parses_its_response() {
    let (client, mut recorder) = common::recording_client();
    let called = common::calls::call_every_operation(&client, &mut recorder).await;
    assert_eq!(called, kinde_api::OPERATIONS.len());
}
