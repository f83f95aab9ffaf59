//! Lambda function `docs`: serves `tenant::docs::docs`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::docs::docs)
}
