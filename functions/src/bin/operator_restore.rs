//! Lambda function `operator_restore`: serves `tenant::routes::operator::restore`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::operator::restore)
}
