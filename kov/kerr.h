/*  kerr.h - Kafka's error codes, as numbers on the wire, in one table.

    The codes are Kafka's (org.apache.kafka.common.protocol.Errors): stable
    numbers a response carries as int16. VL_KERRORS(X) lists every one Kov
    answers with; vl_kerr_name gives the name Kafka's documentation and
    client logs use ("REBALANCE_IN_PROGRESS"). kov/codec.h and kov/batch.h
    define some of the same names as macros of the same values: this header
    drops those macros before its enum, so the headers may be included in
    any order (a macro defined after the enum expands to the same number).
*/
#ifndef VL_KOV_KERR_H
#define VL_KOV_KERR_H
#include <stdint.h>

#define VL_KERRORS(X)                                                                              \
    X(VL_KERR_UNKNOWN_SERVER_ERROR, -1, "UNKNOWN_SERVER_ERROR")                                    \
    X(VL_KERR_NONE, 0, "NONE")                                                                     \
    X(VL_KERR_OFFSET_OUT_OF_RANGE, 1, "OFFSET_OUT_OF_RANGE")                                       \
    X(VL_KERR_CORRUPT_MESSAGE, 2, "CORRUPT_MESSAGE")                                               \
    X(VL_KERR_UNKNOWN_TOPIC_OR_PARTITION, 3, "UNKNOWN_TOPIC_OR_PARTITION")                         \
    X(VL_KERR_INVALID_FETCH_SIZE, 4, "INVALID_FETCH_SIZE")                                         \
    X(VL_KERR_LEADER_NOT_AVAILABLE, 5, "LEADER_NOT_AVAILABLE")                                     \
    X(VL_KERR_NOT_LEADER_OR_FOLLOWER, 6, "NOT_LEADER_OR_FOLLOWER")                                 \
    X(VL_KERR_REQUEST_TIMED_OUT, 7, "REQUEST_TIMED_OUT")                                           \
    X(VL_KERR_MESSAGE_TOO_LARGE, 10, "MESSAGE_TOO_LARGE")                                          \
    X(VL_KERR_OFFSET_METADATA_TOO_LARGE, 12, "OFFSET_METADATA_TOO_LARGE")                          \
    X(VL_KERR_NETWORK_EXCEPTION, 13, "NETWORK_EXCEPTION")                                          \
    X(VL_KERR_COORDINATOR_LOAD_IN_PROGRESS, 14, "COORDINATOR_LOAD_IN_PROGRESS")                    \
    X(VL_KERR_COORDINATOR_NOT_AVAILABLE, 15, "COORDINATOR_NOT_AVAILABLE")                          \
    X(VL_KERR_NOT_COORDINATOR, 16, "NOT_COORDINATOR")                                              \
    X(VL_KERR_INVALID_TOPIC, 17, "INVALID_TOPIC_EXCEPTION")                                        \
    X(VL_KERR_RECORD_LIST_TOO_LARGE, 18, "RECORD_LIST_TOO_LARGE")                                  \
    X(VL_KERR_INVALID_REQUIRED_ACKS, 21, "INVALID_REQUIRED_ACKS")                                  \
    X(VL_KERR_ILLEGAL_GENERATION, 22, "ILLEGAL_GENERATION")                                        \
    X(VL_KERR_INCONSISTENT_GROUP_PROTOCOL, 23, "INCONSISTENT_GROUP_PROTOCOL")                      \
    X(VL_KERR_INVALID_GROUP_ID, 24, "INVALID_GROUP_ID")                                            \
    X(VL_KERR_UNKNOWN_MEMBER_ID, 25, "UNKNOWN_MEMBER_ID")                                          \
    X(VL_KERR_INVALID_SESSION_TIMEOUT, 26, "INVALID_SESSION_TIMEOUT")                              \
    X(VL_KERR_REBALANCE_IN_PROGRESS, 27, "REBALANCE_IN_PROGRESS")                                  \
    X(VL_KERR_INVALID_COMMIT_OFFSET_SIZE, 28, "INVALID_COMMIT_OFFSET_SIZE")                        \
    X(VL_KERR_TOPIC_AUTHORIZATION_FAILED, 29, "TOPIC_AUTHORIZATION_FAILED")                        \
    X(VL_KERR_GROUP_AUTHORIZATION_FAILED, 30, "GROUP_AUTHORIZATION_FAILED")                        \
    X(VL_KERR_UNSUPPORTED_VERSION, 35, "UNSUPPORTED_VERSION")                                      \
    X(VL_KERR_TOPIC_ALREADY_EXISTS, 36, "TOPIC_ALREADY_EXISTS")                                    \
    X(VL_KERR_INVALID_PARTITIONS, 37, "INVALID_PARTITIONS")                                        \
    X(VL_KERR_INVALID_REPLICATION_FACTOR, 38, "INVALID_REPLICATION_FACTOR")                        \
    X(VL_KERR_INVALID_REPLICA_ASSIGNMENT, 39, "INVALID_REPLICA_ASSIGNMENT")                        \
    X(VL_KERR_INVALID_CONFIG, 40, "INVALID_CONFIG")                                                \
    X(VL_KERR_INVALID_REQUEST, 42, "INVALID_REQUEST")                                              \
    X(VL_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT, 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT")                \
    X(VL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, 45, "OUT_OF_ORDER_SEQUENCE_NUMBER")                    \
    X(VL_KERR_DUPLICATE_SEQUENCE_NUMBER, 46, "DUPLICATE_SEQUENCE_NUMBER")                          \
    X(VL_KERR_INVALID_PRODUCER_EPOCH, 47, "INVALID_PRODUCER_EPOCH")                                \
    X(VL_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED")  \
    X(VL_KERR_KAFKA_STORAGE_ERROR, 56, "KAFKA_STORAGE_ERROR")                                      \
    X(VL_KERR_UNKNOWN_PRODUCER_ID, 59, "UNKNOWN_PRODUCER_ID")                                      \
    X(VL_KERR_NON_EMPTY_GROUP, 68, "NON_EMPTY_GROUP")                                              \
    X(VL_KERR_GROUP_ID_NOT_FOUND, 69, "GROUP_ID_NOT_FOUND")                                        \
    X(VL_KERR_UNSUPPORTED_COMPRESSION_TYPE, 76, "UNSUPPORTED_COMPRESSION_TYPE")                    \
    X(VL_KERR_MEMBER_ID_REQUIRED, 79, "MEMBER_ID_REQUIRED")                                        \
    X(VL_KERR_GROUP_MAX_SIZE_REACHED, 81, "GROUP_MAX_SIZE_REACHED")                                \
    X(VL_KERR_FENCED_INSTANCE_ID, 82, "FENCED_INSTANCE_ID")                                        \
    X(VL_KERR_INVALID_RECORD, 87, "INVALID_RECORD")

#undef VL_KERR_UNKNOWN_SERVER_ERROR
#undef VL_KERR_NONE
#undef VL_KERR_OFFSET_OUT_OF_RANGE
#undef VL_KERR_CORRUPT_MESSAGE
#undef VL_KERR_UNKNOWN_TOPIC_OR_PARTITION
#undef VL_KERR_INVALID_FETCH_SIZE
#undef VL_KERR_LEADER_NOT_AVAILABLE
#undef VL_KERR_NOT_LEADER_OR_FOLLOWER
#undef VL_KERR_REQUEST_TIMED_OUT
#undef VL_KERR_MESSAGE_TOO_LARGE
#undef VL_KERR_OFFSET_METADATA_TOO_LARGE
#undef VL_KERR_NETWORK_EXCEPTION
#undef VL_KERR_COORDINATOR_LOAD_IN_PROGRESS
#undef VL_KERR_COORDINATOR_NOT_AVAILABLE
#undef VL_KERR_NOT_COORDINATOR
#undef VL_KERR_INVALID_TOPIC
#undef VL_KERR_RECORD_LIST_TOO_LARGE
#undef VL_KERR_INVALID_REQUIRED_ACKS
#undef VL_KERR_ILLEGAL_GENERATION
#undef VL_KERR_INCONSISTENT_GROUP_PROTOCOL
#undef VL_KERR_INVALID_GROUP_ID
#undef VL_KERR_UNKNOWN_MEMBER_ID
#undef VL_KERR_INVALID_SESSION_TIMEOUT
#undef VL_KERR_REBALANCE_IN_PROGRESS
#undef VL_KERR_INVALID_COMMIT_OFFSET_SIZE
#undef VL_KERR_TOPIC_AUTHORIZATION_FAILED
#undef VL_KERR_GROUP_AUTHORIZATION_FAILED
#undef VL_KERR_UNSUPPORTED_VERSION
#undef VL_KERR_TOPIC_ALREADY_EXISTS
#undef VL_KERR_INVALID_PARTITIONS
#undef VL_KERR_INVALID_REPLICATION_FACTOR
#undef VL_KERR_INVALID_REPLICA_ASSIGNMENT
#undef VL_KERR_INVALID_CONFIG
#undef VL_KERR_INVALID_REQUEST
#undef VL_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT
#undef VL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER
#undef VL_KERR_DUPLICATE_SEQUENCE_NUMBER
#undef VL_KERR_INVALID_PRODUCER_EPOCH
#undef VL_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED
#undef VL_KERR_KAFKA_STORAGE_ERROR
#undef VL_KERR_UNKNOWN_PRODUCER_ID
#undef VL_KERR_NON_EMPTY_GROUP
#undef VL_KERR_GROUP_ID_NOT_FOUND
#undef VL_KERR_UNSUPPORTED_COMPRESSION_TYPE
#undef VL_KERR_MEMBER_ID_REQUIRED
#undef VL_KERR_GROUP_MAX_SIZE_REACHED
#undef VL_KERR_FENCED_INSTANCE_ID
#undef VL_KERR_INVALID_RECORD

#define VL_KERR_ENUM_(name, code, str) name = code,
enum { VL_KERRORS(VL_KERR_ENUM_) };
#undef VL_KERR_ENUM_

/*  Kafka's name of code ("ILLEGAL_GENERATION"), or "UNKNOWN_CODE" for a
    code not in the table. */
const char *vl_kerr_name(int16_t code);

#endif
