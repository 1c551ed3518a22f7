/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Additional sense code / qualifier pairs (SPC-4 Annex D) used by the device
 * server, kept in one place so every handler reports the same values. */
#ifndef TANDEM_SCSI_SENSE_H
#define TANDEM_SCSI_SENSE_H

/* Each pair is written as ASC, ASCQ so that it can be passed straight to
 * scsi_task_set_status(t, status, sk, ASC_X). */
#define ASC_NO_ADDITIONAL_SENSE            0x00, 0x00
#define ASC_WRITE_ERROR                    0x0c, 0x00
#define ASC_UNRECOVERED_READ_ERROR         0x11, 0x00
#define ASC_MISCOMPARE_DURING_VERIFY       0x1d, 0x00
#define ASC_PARAMETER_LIST_LENGTH_ERROR    0x1a, 0x00
#define ASC_INVALID_COMMAND_OPCODE         0x20, 0x00
#define ASC_LBA_OUT_OF_RANGE               0x21, 0x00
#define ASC_INVALID_FIELD_IN_CDB           0x24, 0x00
#define ASC_LUN_NOT_SUPPORTED              0x25, 0x00
#define ASC_INVALID_FIELD_IN_PARAM_LIST    0x26, 0x00
#define ASC_WRITE_PROTECTED                0x27, 0x00
#define ASC_SPACE_ALLOC_FAILED_WP          0x27, 0x07
#define ASC_POWER_ON_RESET                 0x29, 0x00
#define ASC_BUS_DEVICE_RESET               0x29, 0x03
#define ASC_I_T_NEXUS_LOSS                 0x29, 0x07
#define ASC_MODE_PARAMETERS_CHANGED        0x2a, 0x01
#define ASC_CAPACITY_DATA_CHANGED          0x2a, 0x09
#define ASC_COMMANDS_CLEARED_BY_ANOTHER    0x2f, 0x00
#define ASC_SAVING_PARAMS_NOT_SUPPORTED    0x39, 0x00
#define ASC_MEDIUM_NOT_PRESENT             0x3a, 0x00
#define ASC_REPORTED_LUNS_DATA_CHANGED     0x3f, 0x0e
#define ASC_INTERNAL_TARGET_FAILURE        0x44, 0x00
#define ASC_PROTOCOL_SERVICE_CRC_ERROR     0x47, 0x05  /* a transport digest error (iSCSI) */
#define ASC_DATA_PHASE_ERROR               0x4b, 0x00
#define ASC_INVALID_FIELD_IN_IU            0x0e, 0x03
#define ASC_LUN_NOT_READY_BECOMING_READY   0x04, 0x01
#define ASC_INSUFFICIENT_RESOURCES         0x55, 0x03
#define ASC_ALUA_TRANSITIONING             0x04, 0x0a  /* ASYMMETRIC ACCESS STATE TRANSITION */
#define ASC_ALUA_STANDBY                   0x04, 0x0b  /* TARGET PORT IN STANDBY STATE */
#define ASC_ALUA_UNAVAILABLE               0x04, 0x0c  /* TARGET PORT IN UNAVAILABLE STATE */
#define ASC_ASYMMETRIC_ACCESS_STATE_CHANGED 0x2a, 0x06
#define ASC_DEFECT_LIST_NOT_FOUND          0x1c, 0x00
#define ASC_SANITIZE_IN_PROGRESS           0x04, 0x1b  /* LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS */
#define ASC_SANITIZE_FAILED                0x31, 0x03  /* SANITIZE COMMAND FAILED */
#endif
