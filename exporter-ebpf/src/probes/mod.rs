//! One file per hook, each with the kernel prototype it attaches to.

mod exec_check;
mod sched_process_exec;
mod sched_process_exit;
mod sched_process_fork;
mod security_bpf;
mod security_bprm_check;
mod security_file_mprotect;
mod security_file_open;
mod security_kernel_load_data;
mod security_kernel_read_file;
mod security_path_rename;
mod security_path_unlink;
mod security_ptrace_access_check;
mod security_sb_mount;
mod security_socket_accept;
mod security_socket_bind;
mod security_socket_connect;
mod security_socket_listen;
mod security_task_kill;
mod sys_enter;
mod sys_exit;
