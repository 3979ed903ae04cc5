//! Whether the instances in the chosen subnets can reach the internet: at boot they download the
//! artifact over HTTPS and their files from S3, and signal CloudFormation. A subnet without a way
//! out makes every instance fail its boot, which CloudFormation reports only after its timeout;
//! the routes tell that at once. It is a warning, not a refusal: VPC endpoints or a proxy can be
//! the way out, and an artifact can be served from inside the VPC. The instances' security group
//! lets out exactly that traffic (TCP 443 and 80 to any IPv4 address), so a default IPv4 route is
//! the one to look for.

use aws_sdk_ec2::types::{RouteState, RouteTable, Subnet};

use crate::session::Session;

/// Warnings, one line each, for the subnets whose instances have no way to the internet; a note
/// instead when the routes cannot be read.
pub async fn warnings(session: &Session<'_>, vpc: &str, subnets: &[Subnet]) -> Vec<String> {
    let tables = session
        .clients
        .ec2
        .describe_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(vpc)
                .build(),
        )
        .send()
        .await;
    match tables {
        Ok(out) => without_a_way_out(subnets, out.route_tables()),
        Err(e) => vec![format!(
            "the route tables of {vpc} could not be read ({}), so whether SUBNETS reach the internet was not checked",
            crate::error::classify(&e).message
        )],
    }
}

/// The check itself: each subnet's route table (its own, else the VPC's main one) needs a default
/// IPv4 route that is not a blackhole, and one through an internet gateway also needs the subnet
/// to give out public addresses (the launch template asks for none).
pub fn without_a_way_out(subnets: &[Subnet], tables: &[RouteTable]) -> Vec<String> {
    let associated = |subnet: &str| {
        tables.iter().find(|t| {
            t.associations()
                .iter()
                .any(|a| a.subnet_id() == Some(subnet))
        })
    };
    let main = tables
        .iter()
        .find(|t| t.associations().iter().any(|a| a.main() == Some(true)));
    subnets
        .iter()
        .filter_map(|subnet| {
            let id = subnet.subnet_id()?;
            let default_route = associated(id).or(main).and_then(|t| {
                t.routes()
                    .iter()
                    .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            });
            match default_route {
                None => Some(format!(
                    "subnet {id} has no route to the internet (0.0.0.0/0): its instances can download the artifact, read S3 and signal CloudFormation only through VPC endpoints or a proxy, else their boot fails"
                )),
                Some(route) if route.state() == Some(&RouteState::Blackhole) => Some(format!(
                    "subnet {id}'s route to the internet leads to a gateway that no longer exists (blackhole), so its instances' boot fails: route it through a working NAT or internet gateway"
                )),
                Some(route)
                    if route.gateway_id().is_some_and(|g| g.starts_with("igw-"))
                        && subnet.map_public_ip_on_launch() != Some(true) =>
                {
                    Some(format!(
                        "subnet {id} routes to an internet gateway but gives its instances no public address, so they cannot reach the internet and their boot fails: turn on auto-assign public IPv4 for it, or route it through a NAT gateway"
                    ))
                }
                Some(_) => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{Route, RouteTableAssociation};

    fn subnet(id: &str, public_ip: bool) -> Subnet {
        Subnet::builder()
            .subnet_id(id)
            .map_public_ip_on_launch(public_ip)
            .build()
    }

    fn table(main: bool, subnets: &[&str], default_via: Option<Route>) -> RouteTable {
        let mut table = RouteTable::builder().routes(
            Route::builder()
                .destination_cidr_block("10.0.0.0/16")
                .gateway_id("local")
                .build(),
        );
        if let Some(route) = default_via {
            table = table.routes(route);
        }
        if main {
            table = table.associations(RouteTableAssociation::builder().main(true).build());
        }
        for s in subnets {
            table = table.associations(
                RouteTableAssociation::builder()
                    .main(false)
                    .subnet_id(*s)
                    .build(),
            );
        }
        table.build()
    }

    fn default_via_gateway(gateway: &str) -> Option<Route> {
        Some(
            Route::builder()
                .destination_cidr_block("0.0.0.0/0")
                .gateway_id(gateway)
                .build(),
        )
    }

    #[test]
    fn each_subnet_needs_a_way_out_that_its_instances_can_use() {
        let nat = Some(
            Route::builder()
                .destination_cidr_block("0.0.0.0/0")
                .nat_gateway_id("nat-1")
                .build(),
        );
        let tables = [
            // The main table: only the VPC itself.
            table(true, &[], None),
            table(false, &["subnet-public"], default_via_gateway("igw-1")),
            table(false, &["subnet-private"], nat),
        ];
        let warned = |subnets: &[Subnet]| without_a_way_out(subnets, &tables);

        assert!(warned(&[subnet("subnet-public", true)]).is_empty());
        assert!(warned(&[subnet("subnet-private", false)]).is_empty());

        let no_address = warned(&[subnet("subnet-public", false)]);
        assert_eq!(no_address.len(), 1);
        assert!(
            no_address[0].contains("subnet subnet-public routes to an internet gateway but gives its instances no public address"),
            "{no_address:?}"
        );

        // A subnet without a table of its own follows the main one.
        let isolated = warned(&[subnet("subnet-other", true), subnet("subnet-public", true)]);
        assert_eq!(isolated.len(), 1, "{isolated:?}");
        assert!(isolated[0].contains("subnet subnet-other has no route to the internet"));

        // A NAT gateway deleted under its route.
        let gone = Some(
            Route::builder()
                .destination_cidr_block("0.0.0.0/0")
                .nat_gateway_id("nat-2")
                .state(RouteState::Blackhole)
                .build(),
        );
        let blackhole = without_a_way_out(
            &[subnet("subnet-private", false)],
            &[table(false, &["subnet-private"], gone)],
        );
        assert_eq!(blackhole.len(), 1);
        assert!(blackhole[0].contains("(blackhole)"), "{blackhole:?}");

        // Through a main table with a way out, nothing is said.
        let open_main = [table(true, &[], default_via_gateway("igw-1"))];
        assert!(without_a_way_out(&[subnet("subnet-other", true)], &open_main).is_empty());
    }
}
