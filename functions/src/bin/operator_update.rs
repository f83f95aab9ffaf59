//! Lambda function `operator_update`: serves `tenant::routes::operator::update`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::operator::update)
}
