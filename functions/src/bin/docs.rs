//! Lambda function `docs`: serves `tenant::routes::docs::docs`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::docs::docs)
}
