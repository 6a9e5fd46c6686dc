//! Compiles `consort/*.proto` at build time with protox: no system `protoc` needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "consort/common.proto",
        "consort/transaction.proto",
        "consort/config.proto",
        "consort/services.proto",
        "consort/chaincode.proto",
        "consort/gossip.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
