"""Call the gateway knowing nothing but its address and an API key: every type comes from
server reflection, as a generic gRPC tool would get it.

Usage: reflection_client.py HOST:PORT API_KEY

Lists the services, then calls kinde.management.v1.UsersService/GetUsers and prints
`services: N` and `users: N`. Needs grpcio, grpcio-reflection and protobuf.
"""

import sys

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

SERVICE = "kinde.management.v1.UsersService"


def main() -> int:
    address, key = sys.argv[1], sys.argv[2]
    channel = grpc.insecure_channel(address)

    database = ProtoReflectionDescriptorDatabase(channel)
    services = [s for s in database.get_services() if s.startswith("kinde.management.v1.")]
    print(f"services: {len(services)}")

    pool = descriptor_pool.DescriptorPool(database)
    method = pool.FindServiceByName(SERVICE).FindMethodByName("GetUsers")
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)

    call = channel.unary_unary(
        f"/{SERVICE}/GetUsers",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    response = call(request_class(), metadata=[("authorization", f"Bearer {key}")], timeout=30)
    print(f"users: {len(response.users)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
